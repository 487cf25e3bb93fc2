//! The report as text for a terminal: one section per question, lists cut
//! to their first entries (`--json` has them all).

use std::fmt::Write as _;

use super::duration::human;
use super::percentile::Spread;
use super::summary::{Lifetime, Summary};
use crate::sanitize::Esc;
use crate::schema::RecordKind;

/// Entries shown per list before "… and N more".
const LIST: usize = 20;

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    header(&mut o, s);
    counts(&mut o, s);
    spreads(&mut o, "Lifetimes, birth to death", &s.lifetimes);
    spreads(&mut o, "Put to death", &s.put_to_death);
    cleanup(&mut o, s);
    alive(&mut o, s);
    lingered(&mut o, s);
    creators(&mut o, s);
    trust(&mut o, s);
    problems(&mut o, s);
    o
}

fn header(o: &mut String, s: &Summary) {
    let span = match (&s.first, &s.last) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no records".to_string(),
    };
    let _ = writeln!(o, "nstrace report: {} records, {span}", s.records);
    for f in &s.files {
        let _ = writeln!(o, "  file {}", Esc(f));
    }
    for r in &s.sessions {
        let methods: Vec<String> = r.methods.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            o,
            "  run started {} by nstrace {} on Linux {} ({})",
            Esc(&r.start),
            Esc(&r.version),
            Esc(&r.kernel),
            Esc(&methods.join(" "))
        );
    }
}

fn counts(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\nRecords by kind and type");
    let mut types: Vec<&str> = s
        .counts
        .values()
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    types.sort_unstable();
    types.dedup();
    let mut line = format!("  {:<14}", "kind");
    for t in &types {
        let _ = write!(line, "{t:>8}");
    }
    let _ = writeln!(o, "{line}{:>9}", "total");
    for kind in RecordKind::ALL {
        let Some(by_type) = s.counts.get(kind.name()) else {
            continue;
        };
        let mut line = format!("  {:<14}", kind.name());
        for t in &types {
            match by_type.get(*t) {
                Some(n) => write!(line, "{n:>8}"),
                None => write!(line, "{:>8}", "."),
            }
            .unwrap_or(());
        }
        let _ = writeln!(o, "{line}{:>9}", by_type.values().sum::<u64>());
    }
}

fn spread_cols(sp: &Spread) -> String {
    format!(
        "{:>8} {:>9} {:>9} {:>9} {:>9}",
        sp.count,
        human(sp.p50_ns),
        human(sp.p90_ns),
        human(sp.p99_ns),
        human(sp.max_ns)
    )
}

fn spread_title(first: &str, width: usize) -> String {
    format!(
        "  {first:<width$} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "count", "p50", "p90", "p99", "max"
    )
}

fn spreads(o: &mut String, title: &str, by_type: &std::collections::BTreeMap<String, Spread>) {
    let _ = writeln!(o, "\n{title}");
    if by_type.is_empty() {
        let _ = writeln!(o, "  none seen");
        return;
    }
    let _ = writeln!(o, "{}", spread_title("type", 6));
    for (t, sp) in by_type {
        let _ = writeln!(o, "  {t:<6} {}", spread_cols(sp));
    }
}

fn cleanup(o: &mut String, s: &Summary) {
    let c = &s.cleanup_net;
    let _ = writeln!(
        o,
        "\ncleanup_net: {} runs, {} still running past the threshold",
        c.runs, c.slow_runs
    );
    if c.put_to_start.is_none() && c.duration.is_none() {
        return;
    }
    let _ = writeln!(o, "{}", spread_title("", 20));
    if let Some(sp) = &c.put_to_start {
        let who = c
            .longest_wait_inum
            .map(|i| format!("  (max: net:[{i}])"))
            .unwrap_or_default();
        let _ = writeln!(o, "  {:<20} {}{who}", "put to run start", spread_cols(sp));
    }
    if let Some(sp) = &c.duration {
        let who = c
            .longest_batch
            .map(|b| format!("  (max: batch {b})"))
            .unwrap_or_default();
        let _ = writeln!(o, "  {:<20} {}{who}", "run duration", spread_cols(sp));
    }
}

fn name(l: &Lifetime) -> String {
    format!("{}:[{}] gen {}", l.ns_type, l.inum, l.gen)
}

fn origin(l: &Lifetime) -> String {
    let Some(born) = &l.born else {
        return "present when tracing began".to_string();
    };
    let mut s = format!("born {born}");
    if let Some(c) = &l.creator {
        if let Some(comm) = &c.comm {
            let _ = write!(s, " by {}", Esc(comm));
        }
        if let Some(pid) = c.pid {
            let _ = write!(s, " (pid {pid})");
        }
        if let Some(via) = &c.via {
            let _ = write!(s, " via {via}");
        }
    }
    s
}

fn more(o: &mut String, total: usize) {
    if total > LIST {
        let _ = writeln!(o, "  ... and {} more (--json lists all)", total - LIST);
    }
}

fn per_type(lives: &[Lifetime]) -> String {
    let mut per_type = std::collections::BTreeMap::<&str, usize>::new();
    for l in lives {
        *per_type.entry(&l.ns_type).or_default() += 1;
    }
    let by: Vec<String> = per_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
    if by.is_empty() {
        "none".to_string()
    } else {
        by.join(", ")
    }
}

fn alive(o: &mut String, s: &Summary) {
    let born = s.alive_at_end.iter().filter(|l| l.born.is_some()).count();
    let _ = writeln!(
        o,
        "\nAlive at the end of the log: {} ({}): {born} born during the log, {} before it",
        s.alive_at_end.len(),
        per_type(&s.alive_at_end),
        s.alive_at_end.len() - born
    );
    for l in s.alive_at_end.iter().take(LIST) {
        let age = l
            .age_ns
            .map(|a| format!(", age {}", human(a)))
            .unwrap_or_default();
        let _ = writeln!(o, "  {}: {}{age}", name(l), origin(l));
    }
    more(o, s.alive_at_end.len());
    if !s.end_not_observable.is_empty() {
        let _ = writeln!(
            o,
            "\nEnd not observable (no death of their type could be seen): {} ({})",
            s.end_not_observable.len(),
            per_type(&s.end_not_observable)
        );
        for l in s.end_not_observable.iter().take(LIST) {
            let end = l.end.as_deref().unwrap_or("end not observable");
            let _ = writeln!(o, "  {}: {}; {end}", name(l), origin(l));
        }
        more(o, s.end_not_observable.len());
    }
    if !s.unknown_ends.is_empty() {
        let total: u64 = s.unknown_ends.iter().map(|u| u.count).sum();
        let _ = writeln!(o, "\nEnds the log cannot tell: {total}");
        for u in &s.unknown_ends {
            let _ = writeln!(
                o,
                "  {} {}: {} ({})",
                u.ns_type,
                u.count,
                u.cause.words(),
                u.why
            );
        }
    }
    if !s.unidentified_deaths.is_empty() {
        let by: Vec<String> = s
            .unidentified_deaths
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "Deaths tied to no namespace the log knows (end: unidentified): {}",
            by.join(", ")
        );
    }
}

fn lingered(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\nLingered after their last task: {}", s.lingered.len());
    for l in s.lingered.iter().take(LIST) {
        let Some(g) = &l.linger else { continue };
        let fate = match &l.died {
            Some(d) => format!("died {d}"),
            None => "still alive at the end".to_string(),
        };
        let _ = writeln!(
            o,
            "  {}: {}; lingering {} at {}; {fate}",
            name(l),
            origin(l),
            human(g.since_last_task_ns),
            g.at
        );
        for h in &g.holders {
            let mut line = format!("    held by {}", h.kind);
            if let Some(pid) = h.pid {
                let _ = write!(line, " pid {pid}");
            }
            if let Some(comm) = &h.comm {
                let _ = write!(line, " ({})", Esc(comm));
            }
            if let Some(fd) = h.fd {
                let _ = write!(line, " fd {fd}");
            }
            if let Some(path) = &h.path {
                let _ = write!(line, " {}", Esc(path));
            }
            if let Some(d) = &h.detail {
                let _ = write!(line, " [{}]", Esc(d));
            }
            let _ = writeln!(o, "{line}");
        }
    }
    more(o, s.lingered.len());
}

fn creators(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\nTop creators (births)");
    let list = |v: &[super::summary::Count]| -> String {
        if v.is_empty() {
            return "none".to_string();
        }
        v.iter()
            .map(|c| format!("{} {}", Esc(&c.name), c.births))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(o, "  by comm: {}", list(&s.top_creators_by_comm));
    let _ = writeln!(o, "  by via:  {}", list(&s.top_creators_by_via));
}

fn trust(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "\nLost: {} events in {} lost records",
        s.lost.events, s.lost.records
    );
    let _ = writeln!(
        o,
        "Periods the log cannot be trusted: {}",
        s.untrusted.len()
    );
    for p in s.untrusted.iter().take(LIST) {
        if p.from == p.to {
            let _ = writeln!(o, "  at {}: {}", p.from, Esc(&p.why));
        } else {
            let _ = writeln!(o, "  {} to {}: {}", p.from, p.to, Esc(&p.why));
        }
    }
    more(o, s.untrusted.len());
}

fn problems(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\nProblems: {}", s.problems.len());
    for p in &s.problems {
        let _ = writeln!(o, "  {}", Esc(p));
    }
}
