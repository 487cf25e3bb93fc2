//! The namespaces each container created, one line per container:
//! `web-1 (docker): mnt uts ipc pid net, lived 3.21s`.
//!
//! A namespace is a container's when its birth record names the container.
//! "Lived" runs from the container's first birth to the death of its last
//! namespace, and is only said when the log has every one of those deaths
//! that its run could see; otherwise the line says how many it has. Types
//! whose deaths the run could not see at all (most of them on a kernel
//! without kprobes, as its header says) are named as such:
//! `web-1 (podman): mnt uts ipc pid net, lived 3.21s (mnt uts ipc: end not
//! observable)`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use tracer_common::NsType;

use super::duration::human;
use crate::sanitize::Esc;
use crate::schema::{Container, Record, RecordKind};

/// One container in the report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ContainerLine {
    pub container: Container,
    /// Namespace type → how many it created.
    pub created: BTreeMap<String, u64>,
    /// Time of its first birth.
    pub first_birth: String,
    /// Deaths seen of the namespaces it created.
    pub deaths_seen: u64,
    /// First birth to last death, when every death its run could see was
    /// seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lived_ns: Option<u64>,
    /// Types it created whose deaths its run could not see.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ends_not_observable: Vec<String>,
    /// The first lasting task a runtime helper's birth named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_comm: Option<String>,
}

struct Entry {
    line: ContainerLine,
    first_mono: u64,
    last_death_mono: u64,
    /// Births whose deaths the run could see.
    born: u64,
}

/// Folds records into container lines, in log order.
#[derive(Default)]
pub struct ContainerTally {
    /// By container id (several runtimes never share one).
    entries: BTreeMap<String, Entry>,
    /// Open lifetimes (type, inum, gen) → the container that made them.
    open: HashMap<(NsType, u32, u32), String>,
    /// Per type, whether the current run can see its deaths (`None`: no
    /// header yet, taken as every one).
    visible: Option<[bool; 8]>,
}

impl ContainerTally {
    pub fn add(&mut self, rec: &Record) {
        if rec.event == RecordKind::Header {
            // Generations restart with every tracer run.
            self.open.clear();
            self.visible = rec
                .methods
                .as_ref()
                .map(|m| crate::coverage::deaths_visible(m, rec.kernel.as_deref().unwrap_or("")));
            return;
        }
        let (Some(t), Some(inum), Some(gen)) = (rec.ns_type, rec.inum, rec.gen) else {
            return;
        };
        match rec.event {
            RecordKind::Birth => {
                let Some(c) = &rec.container else {
                    return;
                };
                let e = self.entries.entry(c.id.clone()).or_insert_with(|| Entry {
                    line: ContainerLine {
                        container: (**c).clone(),
                        created: BTreeMap::new(),
                        first_birth: rec.ts.clone(),
                        deaths_seen: 0,
                        lived_ns: None,
                        ends_not_observable: Vec::new(),
                        init_pid: None,
                        init_comm: None,
                    },
                    first_mono: rec.mono_ns,
                    last_death_mono: 0,
                    born: 0,
                });
                *e.line.created.entry(t.name().to_string()).or_default() += 1;
                if self.visible.is_none_or(|v| v[t as usize]) {
                    e.born += 1;
                } else if !e.line.ends_not_observable.iter().any(|n| n == t.name()) {
                    e.line.ends_not_observable.push(t.name().to_string());
                }
                if e.line.init_pid.is_none() {
                    e.line.init_pid = rec.init_pid;
                    e.line.init_comm.clone_from(&rec.init_comm);
                }
                self.open.insert((t, inum, gen), c.id.clone());
            }
            RecordKind::Death => {
                if let Some(id) = self.open.remove(&(t, inum, gen)) {
                    if let Some(e) = self.entries.get_mut(&id) {
                        e.line.deaths_seen += 1;
                        e.last_death_mono = e.last_death_mono.max(rec.mono_ns);
                    }
                }
            }
            _ => {}
        }
    }

    /// The lines, by first birth.
    pub fn finish(self) -> Vec<ContainerLine> {
        let mut entries: Vec<Entry> = self.entries.into_values().collect();
        entries.sort_by_key(|e| e.first_mono);
        entries
            .into_iter()
            .map(|mut e| {
                if e.born > 0 && e.line.deaths_seen == e.born {
                    e.line.lived_ns = Some(e.last_death_mono.saturating_sub(e.first_mono));
                }
                e.line
            })
            .collect()
    }
}

/// The "Containers" section; nothing when no record named a container.
pub fn render(o: &mut String, lines: &[ContainerLine]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nNamespaces by container (births)");
    for l in lines {
        let _ = writeln!(o, "  {}", line(l));
    }
}

/// `web-1 (docker): mnt uts ipc pid net, lived 3.21s, init 4242 (sleep)`.
pub fn line(l: &ContainerLine) -> String {
    let types: Vec<String> = NsType::ALL
        .iter()
        .filter_map(|t| {
            let n = *l.created.get(t.name())?;
            Some(if n == 1 {
                t.name().to_string()
            } else {
                format!("{}×{n}", t.name())
            })
        })
        .collect();
    let unseen = |t: &String| l.ends_not_observable.contains(t);
    let born: u64 = l
        .created
        .iter()
        .filter(|(t, _)| !unseen(t))
        .map(|(_, n)| n)
        .sum();
    let mut end = match (l.lived_ns, l.deaths_seen) {
        (Some(ns), _) => format!("lived {}", human(ns)),
        _ if born == 0 => "end not observable".to_string(),
        (None, 0) => "no death seen".to_string(),
        (None, d) => format!("{d} of {born} deaths seen"),
    };
    if born > 0 && !l.ends_not_observable.is_empty() {
        let names: Vec<&str> = NsType::ALL
            .iter()
            .map(|t| t.name())
            .filter(|n| l.ends_not_observable.iter().any(|x| x == n))
            .collect();
        let _ = write!(end, " ({}: end not observable)", names.join(" "));
    }
    // Names come from the log, and before that from runtime state.
    let mut s = format!("{}: {}, {end}", Esc(&l.container.label()), types.join(" "));
    if let (Some(pid), Some(comm)) = (l.init_pid, &l.init_comm) {
        let _ = write!(s, ", init {pid} ({})", Esc(comm));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Runtime;

    fn rec(event: RecordKind, mono_s: f64, t: NsType, inum: u32, c: Option<&Container>) -> Record {
        let mono = (mono_s * 1e9) as u64;
        let mut r = Record::new(event, mono, format!("ts{mono}"));
        r.ns_type = Some(t);
        r.inum = Some(inum);
        r.gen = Some(1);
        r.container = c.cloned().map(Into::into);
        r
    }

    #[test]
    fn one_line_per_container_with_what_it_made() {
        let mut web = Container::new(Runtime::Docker, "a".repeat(64));
        web.name = Some("web-1".into());
        let db = Container::new(Runtime::Runc, "t1");
        let mut t = ContainerTally::default();
        let made = [
            NsType::Mnt,
            NsType::Uts,
            NsType::Ipc,
            NsType::Net,
            NsType::Pid,
        ];
        for (i, ty) in made.into_iter().enumerate() {
            let mut r = rec(RecordKind::Birth, 1.0, ty, 10 + i as u32, Some(&web));
            r.init_pid = Some(4242);
            r.init_comm = Some("sleep".into());
            t.add(&r);
        }
        t.add(&rec(RecordKind::Birth, 2.0, NsType::Net, 20, Some(&db)));
        t.add(&rec(RecordKind::Birth, 2.5, NsType::Net, 21, Some(&db)));
        // Not a container's: not counted.
        t.add(&rec(RecordKind::Birth, 2.6, NsType::Net, 30, None));
        for (i, ty) in made.into_iter().enumerate() {
            t.add(&rec(RecordKind::Death, 4.21, ty, 10 + i as u32, None));
        }
        t.add(&rec(RecordKind::Death, 3.0, NsType::Net, 20, None));
        let lines = t.finish();
        let text: Vec<String> = lines.iter().map(line).collect();
        assert_eq!(
            text,
            [
                "web-1 (docker): mnt uts ipc pid net, lived 3.21s, init 4242 (sleep)",
                "t1 (runc): net×2, 1 of 2 deaths seen",
            ]
        );
        let mut o = String::new();
        render(&mut o, &lines);
        assert!(
            o.starts_with("\nNamespaces by container (births)\n  web-1"),
            "{o}"
        );
        let mut o = String::new();
        render(&mut o, &[]);
        assert!(o.is_empty());
        let mut evil = lines[0].clone();
        evil.container.name = Some("web\x1b[2J".into());
        assert!(
            line(&evil).starts_with("web\\x1b[2J (docker)"),
            "{}",
            line(&evil)
        );
    }

    /// A tracepoint host's run sees no mnt, uts or ipc death: the line
    /// says so, and "lived" counts the deaths it could see.
    #[test]
    fn types_whose_deaths_the_run_cannot_see_are_named() {
        let mut header = Record::new(RecordKind::Header, 0, "h".into());
        header.kernel = Some("6.18.44".into());
        header.methods = Some(
            [
                ("clone", "tracepoint"),
                ("unshare", "tracepoint"),
                ("workqueue", "tracepoint"),
                ("nsfs_evict", "missing"),
                ("put_net", "missing"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let c = Container::new(Runtime::Runc, "web-runc");
        let made = [
            NsType::Mnt,
            NsType::Uts,
            NsType::Ipc,
            NsType::Pid,
            NsType::Net,
        ];
        let visible = crate::coverage::deaths_visible(header.methods.as_ref().unwrap(), "6.18.44");
        assert!(!visible[NsType::Uts as usize] && visible[NsType::Net as usize]);
        let mut t = ContainerTally::default();
        t.add(&header);
        for (i, ty) in made.into_iter().enumerate() {
            t.add(&rec(RecordKind::Birth, 1.0, ty, 10 + i as u32, Some(&c)));
        }
        let still = t.finish();
        assert_eq!(
            line(&still[0]),
            "web-runc (runc): mnt uts ipc pid net, no death seen (mnt uts ipc: end not observable)"
        );
        let mut t = ContainerTally::default();
        t.add(&header);
        for (i, ty) in made.into_iter().enumerate() {
            t.add(&rec(RecordKind::Birth, 1.0, ty, 10 + i as u32, Some(&c)));
        }
        for (i, ty) in made.into_iter().enumerate().skip(3) {
            t.add(&rec(RecordKind::Death, 2.5, ty, 10 + i as u32, None));
        }
        assert_eq!(
            line(&t.finish()[0]),
            "web-runc (runc): mnt uts ipc pid net, lived 1.50s (mnt uts ipc: end not observable)"
        );
        // Nothing it made could be seen to die.
        let mut t = ContainerTally::default();
        t.add(&header);
        t.add(&rec(RecordKind::Birth, 1.0, NsType::Uts, 10, Some(&c)));
        assert_eq!(
            line(&t.finish()[0]),
            "web-runc (runc): uts, end not observable"
        );
    }

    #[test]
    fn a_new_run_forgets_open_lifetimes() {
        let c = Container::new(Runtime::Crun, "c1");
        let mut t = ContainerTally::default();
        t.add(&rec(RecordKind::Birth, 1.0, NsType::Uts, 10, Some(&c)));
        t.add(&Record::new(RecordKind::Header, 0, "h".into()));
        // Gen 1 of the next run is another namespace.
        t.add(&rec(RecordKind::Death, 2.0, NsType::Uts, 10, None));
        assert_eq!(line(&t.finish()[0]), "c1 (crun): uts, no death seen");
    }
}
