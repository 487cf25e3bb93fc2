//! `nstrace why` and `nstrace ls`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context};
use tracer_common::NsType;

use super::inventory::{Inventory, Namespace};
use super::nsref::{type_from_name, type_names};
use super::render;
use super::spec::NsSpec;
use crate::agent::history;
use crate::privileges;

/// Arguments of `nstrace why`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
NS is one of:
  4026532115            an inode number
  net:[4026532115]      TYPE:[INODE], as /proc/PID/ns/* links show it
  /run/netns/foo        a namespace file: /proc/PID/ns/TYPE or a bind mount

Exit status:
  0  the namespace was found and its holders printed
  1  no live namespace matches NS (unknown or already dead)
  2  error (bad NS, unreadable /proc, ...), or an answer that may be partial
     because nstrace lacks the capabilities to see every holder

Examples:
  nstrace why /run/netns/foo
  nstrace why net:[4026532115] --json")]
pub struct WhyArgs {
    /// The namespace to explain.
    #[arg(value_name = "NS")]
    pub ns: String,
    /// Print the answer as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// The query socket of a running `nstrace agent`, asked for the
    /// namespace's history.
    #[arg(long, value_name = "PATH", default_value = crate::agent::DEFAULT_SOCKET)]
    pub socket: std::path::PathBuf,
}

/// Arguments of `nstrace ls`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Columns: NS inode, TYPE, NPROCS processes and TASKS threads inside, USERNS the
owning user namespace (a user namespace's parent) and UID its creator,
HOLDERS what else keeps it alive (fd, socket, tun, bind_mount, proc_mount,
child_ns, owned_ns, thread, pid_for_children, time_for_children), CONTAINER
and COMMAND of the lowest pid inside (its container's name, or the start
of its id), or <what holds it> when no process is inside.

Examples:
  nstrace ls -t net,user
  nstrace ls --tree
  nstrace ls --json")]
pub struct LsArgs {
    /// Only these types (repeat or comma-separate): mnt, uts, ipc, pid, net, user, cgroup, time.
    #[arg(short = 't', long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Show the hierarchy: user namespaces by parent, other namespaces under
    /// their owner, pid namespaces under their parent.
    #[arg(long)]
    pub tree: bool,
    /// Print a JSON object with a `namespaces` array (always flat: `owner`
    /// and `parent` carry the hierarchy).
    #[arg(long)]
    pub json: bool,
}

fn print_warnings(inv: &Inventory) {
    for line in inv.warnings.lines() {
        eprintln!("nstrace: warning: {}", crate::sanitize::escape(&line));
    }
}

/// The capabilities of [`privileges::SCAN`] this process lacks, named, or
/// None: without them a scan sees only this user's processes and mounts.
fn partial_scan() -> anyhow::Result<Option<String>> {
    let lacking = privileges::missing(&privileges::SCAN)?;
    let names: Vec<String> = lacking.iter().map(ToString::to_string).collect();
    Ok((!names.is_empty()).then(|| names.join(", ")))
}

pub fn why(args: &WhyArgs) -> anyhow::Result<ExitCode> {
    let spec = match NsSpec::parse(&args.ns) {
        Ok(spec) => spec,
        Err(err) => {
            let Some(pid) = super::spec::exited_process(&args.ns) else {
                return Err(err);
            };
            eprintln!(
                "nstrace: no live namespace is {}: process {pid} has exited (list live ones \
                 with `nstrace ls`)",
                crate::sanitize::escape(&args.ns)
            );
            return Ok(ExitCode::from(1));
        }
    };
    let partial = partial_scan()?;
    let inv = super::scan()?;
    print_warnings(&inv);
    let found: Vec<&Namespace> = match &spec {
        NsSpec::Inode(inum) => inv.with_inum(*inum),
        NsSpec::Typed(id) | NsSpec::Path(_, id) => inv.get(*id).into_iter().collect(),
    };
    let (ns_type, inum) = match &spec {
        NsSpec::Inode(inum) => (None, *inum),
        NsSpec::Typed(id) | NsSpec::Path(_, id) => (Some(id.ns_type), id.inum),
    };
    let history = history::ask(&args.socket, ns_type, inum);
    let mut text = String::new();
    if found.is_empty() {
        let what = match &spec {
            NsSpec::Inode(inum) => format!("inode {inum}"),
            NsSpec::Typed(id) => id.to_string(),
            NsSpec::Path(path, id) => format!(
                "{id} (from {})",
                crate::sanitize::escape(&path.to_string_lossy())
            ),
        };
        // Whether the agent could be asked matters even when nothing is
        // found (a non-root user learns why the agent did not answer).
        if let Err(e) = &history {
            eprint!("nstrace: {}", history::unavailable(e));
        }
        if let Some(lacking) = &partial {
            // Not found among what we can see proves nothing.
            eprintln!(
                "nstrace: no namespace this user can see is {what}, but without {lacking} \
                 nstrace cannot see other users' processes and mounts, where it may be \
                 alive: run it as root"
            );
            return Ok(ExitCode::from(2));
        }
        eprintln!(
            "nstrace: no live namespace is {what}: it is dead, or was never a namespace \
             (list live ones with `nstrace ls`)"
        );
        // A dead namespace's history is still worth showing.
        if let Ok(h) = &history {
            for ns in h.namespaces.iter().flatten() {
                if args.json {
                    let obj =
                        serde_json::json!({"type": ns.ns_type, "inum": ns.inum, "history": ns});
                    let _ = writeln!(text, "{obj}");
                } else {
                    let _ = writeln!(text, "{}:[{}]", ns.ns_type.name(), ns.inum);
                    let since = h.agent.as_ref().and_then(|a| a.history_since.as_ref());
                    text.push_str(&history::text(ns, since));
                }
            }
        }
        crate::stdout::print(text.as_bytes())?;
        return Ok(ExitCode::from(1));
    }
    for ns in found {
        let verdict = match &partial {
            Some(lacking) => format!(
                "unknown: without {lacking} nstrace cannot see other users' processes, \
                 fds, sockets and mounts, so the holders above may not be all; run it as root"
            ),
            None => render::verdict(ns),
        };
        let from_agent = history.as_ref().ok().and_then(|h| {
            let one = h
                .namespaces
                .iter()
                .flatten()
                .find(|n| n.ns_type == ns.id.ns_type)?;
            Some((one, h.agent.as_ref().and_then(|a| a.history_since.as_ref())))
        });
        if args.json {
            let mut json = render::why_json(ns);
            json.verdict = verdict;
            let mut obj = serde_json::to_value(json)?;
            obj["history"] = match (&history, from_agent) {
                (_, Some((one, _))) => serde_json::to_value(one)?,
                (Ok(_), None) => {
                    serde_json::json!({"available": false, "reason": "the agent knows nothing of it"})
                }
                (Err(e), None) => serde_json::json!({"available": false, "reason": e.to_string()}),
            };
            let _ = writeln!(text, "{obj}");
        } else {
            text.push_str(&render::why_text(ns, &verdict));
            match (&history, from_agent) {
                (_, Some((one, since))) => text.push_str(&history::text(one, since)),
                (Ok(_), None) => text.push_str("  history: the agent knows nothing of it\n"),
                (Err(e), None) => {
                    text.push_str("  ");
                    text.push_str(&history::unavailable(e));
                }
            }
        }
    }
    crate::stdout::print(text.as_bytes())?;
    // An answer that may miss holders is not a success a script may trust.
    Ok(if partial.is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The types `-t` asked for; all of them when none was given.
pub fn parse_types(values: &[String]) -> anyhow::Result<BTreeSet<NsType>> {
    if values.is_empty() {
        return Ok(NsType::ALL.into_iter().collect());
    }
    let mut out = BTreeSet::new();
    for v in values {
        let v = v.trim();
        match type_from_name(v) {
            Some(t) => {
                out.insert(t);
            }
            None => bail!(
                "-t {v:?}: unknown namespace type; valid types are {}",
                type_names()
            ),
        }
    }
    Ok(out)
}

pub fn ls(args: &LsArgs) -> anyhow::Result<ExitCode> {
    let wanted = parse_types(&args.types)?;
    if let Some(lacking) = partial_scan()? {
        eprintln!(
            "nstrace: warning: without {lacking} this list holds only what this user can \
             see: other users' namespaces, tasks and holders are missing; run it as root"
        );
    }
    let inv = super::scan()?;
    print_warnings(&inv);
    let rows: Vec<&Namespace> = inv
        .namespaces
        .values()
        .filter(|n| wanted.contains(&n.id.ns_type))
        .collect();
    let text = if args.json {
        let list: Vec<render::LsJson> = rows.iter().map(|n| render::ls_json(n)).collect();
        let mut s = serde_json::to_string(&serde_json::json!({ "namespaces": list }))
            .context("cannot encode the namespace list as JSON")?;
        s.push('\n');
        s
    } else if args.tree {
        render::ls_tree(&inv.namespaces, &wanted)
    } else {
        render::ls_table(&rows)
    };
    crate::stdout::print(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
