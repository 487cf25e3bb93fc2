//! What `nstrace why` adds from a running agent: the agent's answer as
//! text, or why there is none.

use std::{fmt::Write as _, path::Path};

use tracer_common::NsType;

use super::{
    client::{self, Unanswered},
    protocol::{Lifetime, NsHistory, Request, Response, Stamp},
};
use crate::sanitize::Esc;

/// The agent's answer about `inum` (of `ns_type`, or of every type).
pub fn ask(socket: &Path, ns_type: Option<NsType>, inum: u32) -> Result<Response, Unanswered> {
    client::ask(socket, &Request::Why { ns_type, inum })
}

/// The line printed when no agent answered.
pub fn unavailable(why: &Unanswered) -> String {
    match why {
        Unanswered::NoAgent => {
            "history: none available: no nstrace agent is running (`nstrace agent` records each \
             namespace's history)\n"
                .to_string()
        }
        other => format!("history: none available: {other}\n"),
    }
}

/// `history` and what the agent knows about one namespace, indented under
/// `why`'s own text.
pub fn text(h: &NsHistory, since: Option<&Stamp>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  history (nstrace agent{}):",
        since.map_or(String::new(), |t| format!(", records since {}", t.ts))
    );
    match &h.current {
        Some(l) => lifetime(&mut s, l, "    "),
        None => s.push_str("    not alive as far as the agent knows\n"),
    }
    if !h.earlier.is_empty() {
        let _ = writeln!(
            s,
            "    earlier lifetimes of {}:[{}] (newest first):",
            h.ns_type.name(),
            h.inum
        );
        for l in &h.earlier {
            lifetime(&mut s, l, "      ");
        }
    }
    s
}

fn lifetime(s: &mut String, l: &Lifetime, pad: &str) {
    let opened = match (&l.born_by, l.origin.as_str()) {
        (Some(b), _) => format!(
            "born {} by pid {} ({}) via {}",
            Esc(&l.opened.ts),
            b.pid,
            Esc(&b.comm),
            b.via
        ),
        (None, "present") => format!("alive when the agent started, {}", l.opened.ts),
        (None, _) => format!("first seen {}", l.opened.ts),
    };
    let _ = writeln!(s, "{pad}{opened} (gen {})", l.gen);
    if l.carried_over {
        let _ = writeln!(
            s,
            "{pad}  recorded by an earlier run of the agent (started {}), still alive",
            l.run_started.as_deref().unwrap_or("?")
        );
    }
    if l.joins > 0 {
        let last = l.last_join.as_ref().map_or(String::new(), |j| {
            format!(
                ", last {} by pid {} ({}) via {}",
                Esc(&j.at.ts),
                j.by.pid,
                Esc(&j.by.comm),
                j.by.via
            )
        });
        let _ = writeln!(s, "{pad}  joined {} times{last}", l.joins);
    }
    match (&l.last_task_left, l.tasks) {
        (Some(t), tasks) => {
            let now = tasks.map_or(String::new(), |n| {
                format!(" ({n} tasks at the latest scan)")
            });
            let _ = writeln!(s, "{pad}  last task left {}{now}", t.ts);
        }
        (None, Some(n)) => {
            let _ = writeln!(s, "{pad}  {n} tasks at the latest scan");
        }
        (None, None) => {}
    }
    if l.puts > 0 || l.evicts > 0 {
        let at = |t: &Option<Stamp>| {
            t.as_ref()
                .map_or(String::new(), |t| format!(" (last {})", t.ts))
        };
        let _ = writeln!(
            s,
            "{pad}  puts seen: {}{}; nsfs evictions seen: {}{}",
            l.puts,
            at(&l.last_put),
            l.evicts,
            at(&l.last_evict)
        );
    }
    if let Some(c) = &l.cleanup {
        let line = match c.state.as_str() {
            "queued" => "waits for a cleanup_net run: its last reference was dropped and no run has taken it yet".to_string(),
            "running" => format!(
                "waits in cleanup_net run {} started {}",
                c.batch.map_or("?".into(), |b| b.to_string()),
                c.started.as_ref().map_or("?", |t| t.ts.as_str())
            ),
            _ => format!(
                "cleanup_net run {} ended {} without its death being seen",
                c.batch.map_or("?".into(), |b| b.to_string()),
                c.ended.as_ref().map_or("?", |t| t.ts.as_str())
            ),
        };
        let _ = writeln!(s, "{pad}  {line}");
    }
    if let Some(g) = &l.lingered {
        let _ = writeln!(
            s,
            "{pad}  lingered: reported {}, {:.1} s after its last task left, {} holders named",
            g.at.ts,
            g.since_last_task_ns as f64 / 1e9,
            g.holders
        );
    }
    if let Some(e) = &l.ended {
        let how = match e.how.as_str() {
            "death" => match e.exact {
                Some(false) => "died (records were lost meanwhile: not exact)",
                _ => "died",
            },
            "number_reused" => "ended unseen: a new namespace took its number",
            _ => "ended while no agent was recording",
        };
        let lived = e.lifetime_ns.map_or(String::new(), |n| {
            format!(", lived {:.3} s", n as f64 / 1e9)
        });
        let _ = writeln!(s, "{pad}  {how} {}{lived}", e.at.ts);
    }
}
