//! Answers to the socket's requests, from memory: the index (history,
//! rebuilt from the log at start) and the engine (task counts and the
//! last task's departure, which records carry only once a namespace
//! lingered).

use tracer_common::{NsType, Via};

use super::protocol::{self, AgentInfo, Cleanup, Ended, Join, Linger, NsHistory, Response, Stamp};
use crate::{
    decode::Clock,
    index::{self, Closed, End, Index, Live, Origin},
    lifecycle::Engine,
    pipeline::Pipeline,
};

/// Facts about this run that the answers include.
pub struct RunFacts {
    pub started: String,
    pub log: Option<String>,
}

fn stamp(clock: &Clock, mono_ns: u64) -> Stamp {
    Stamp {
        ts: clock.rfc3339(mono_ns),
        mono_ns,
    }
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Born => "born",
        Origin::Present => "present",
        Origin::Unseen => "unseen",
    }
}

fn via(v: u8) -> String {
    Via::from_u32(u32::from(v))
        .unwrap_or(Via::None)
        .name()
        .to_string()
}

pub fn status(p: &Pipeline, index: &Index, clock: &Clock, facts: &RunFacts) -> Response {
    Response {
        ok: true,
        agent: Some(agent_info(p, index, clock, facts)),
        ..Response::default()
    }
}

fn agent_info(p: &Pipeline, index: &Index, clock: &Clock, facts: &RunFacts) -> AgentInfo {
    AgentInfo {
        version: crate::logfile::OUR_VERSION.to_string(),
        pid: std::process::id(),
        started: facts.started.clone(),
        history_since: index.since_ns().map(|t| stamp(clock, t)),
        runs: index.runs().len(),
        records: p.summary().total(),
        lost: p.summary().lost,
        skipped: p
            .summary()
            .skipped
            .iter()
            .map(|(p, n)| (p.to_string(), *n))
            .collect(),
        live: p.engine().live_count(),
        earlier: index.earlier_count(),
        log: facts.log.clone(),
    }
}

/// What is known about `inum`, of `ns_type` or of every type that has it.
pub fn why(
    p: &Pipeline,
    index: &Index,
    clock: &Clock,
    facts: &RunFacts,
    ns_type: Option<NsType>,
    inum: u32,
) -> Response {
    let engine = p.engine();
    let types: Vec<NsType> = match ns_type {
        Some(t) => vec![t],
        None => {
            let mut t = index.types_of(inum);
            for ty in NsType::ALL {
                if engine.lifetime(ty, inum).is_some() && !t.contains(&ty) {
                    t.push(ty);
                }
            }
            t
        }
    };
    let namespaces = types
        .into_iter()
        .map(|t| NsHistory {
            ns_type: t,
            inum,
            current: current(engine, index, clock, t, inum),
            earlier: index
                .earlier(t, inum)
                .iter()
                .rev()
                .map(|c| closed(index, clock, c))
                .collect(),
        })
        .collect();
    Response {
        ok: true,
        agent: Some(agent_info(p, index, clock, facts)),
        namespaces: Some(namespaces),
        ..Response::default()
    }
}

fn current(
    engine: &Engine,
    index: &Index,
    clock: &Clock,
    t: NsType,
    inum: u32,
) -> Option<protocol::Lifetime> {
    let life = engine.lifetime(t, inum);
    // The index learns only from records, which reach it after the
    // engine's reorder window and any holding stage (up to seconds): an
    // engine lifetime whose first record has not come is not there yet,
    // and the index may still show the number's previous lifetime, whose
    // death is on its way. The engine's is then the live one.
    let indexed = index
        .live(t, inum)
        .filter(|l| life.is_none_or(|e| e.gen() == l.gen));
    let mut view = match (indexed, life) {
        (Some(l), _) => live(index, clock, l, index.more(t, inum), index.linger(t, inum)),
        (None, Some(l)) => protocol::Lifetime {
            gen: l.gen(),
            origin: match l.origin() {
                crate::lifecycle::Origin::Born => "born",
                crate::lifecycle::Origin::Present => "present",
                crate::lifecycle::Origin::Unseen => "unseen",
            }
            .into(),
            opened: stamp(clock, l.opened_ns()),
            born_by: l.birth().map(|b| protocol::Actor {
                pid: b.pid,
                comm: engine.comm(b.comm),
                via: b.via.name().into(),
            }),
            run_started: None,
            carried_over: false,
            joins: l.joins(),
            last_join: None,
            tasks: None,
            last_task_left: None,
            puts: l.puts(),
            last_put: l.last_put_ns().map(|t| stamp(clock, t)),
            evicts: l.evictions(),
            last_evict: l.last_evict_ns().map(|t| stamp(clock, t)),
            cleanup: None,
            lingered: None,
            ended: None,
        },
        (None, None) => return None,
    };
    if let Some(l) = life {
        view.tasks = Some(l.tasks());
        view.last_task_left = l.last_task_left_ns().map(|t| stamp(clock, t));
    }
    Some(view)
}

fn live(
    index: &Index,
    clock: &Clock,
    l: &Live,
    m: Option<&index::More>,
    g: Option<&index::Linger>,
) -> protocol::Lifetime {
    let m = m.cloned().unwrap_or_default();
    let cleanup = match (m.cleanup_start_ns, m.cleanup_end_ns, m.last_put_ns) {
        (Some(s), end, _) => Some(Cleanup {
            state: if end.is_some() { "ended" } else { "running" }.into(),
            batch: m.cleanup_batch,
            started: Some(stamp(clock, s)),
            ended: end.map(|e| stamp(clock, e)),
        }),
        (None, _, Some(_)) => Some(Cleanup {
            state: "queued".into(),
            batch: None,
            started: None,
            ended: None,
        }),
        (None, _, None) => None,
    };
    protocol::Lifetime {
        gen: l.gen,
        origin: origin(l.origin).into(),
        opened: stamp(clock, l.opened_ns),
        born_by: (l.origin == Origin::Born).then(|| protocol::Actor {
            pid: l.pid,
            comm: index.comm(l.comm).to_string(),
            via: via(l.via),
        }),
        run_started: index.run(l.run).map(|r| r.start.clone()),
        carried_over: l.carried,
        joins: m.joins,
        last_join: m.last_join.map(|j| join(index, clock, &j)),
        tasks: None,
        // From the linger record; the engine's view replaces it when live.
        last_task_left: g.map(|g| stamp(clock, g.at_ns.saturating_sub(g.since_last_task_ns))),
        puts: m.puts,
        last_put: m.last_put_ns.map(|t| stamp(clock, t)),
        evicts: m.evicts,
        last_evict: m.last_evict_ns.map(|t| stamp(clock, t)),
        cleanup,
        lingered: g.map(|g| Linger {
            at: stamp(clock, g.at_ns),
            since_last_task_ns: g.since_last_task_ns,
            holders: g.holders,
        }),
        ended: None,
    }
}

fn join(index: &Index, clock: &Clock, j: &index::Actor) -> Join {
    Join {
        at: stamp(clock, j.mono_ns),
        by: protocol::Actor {
            pid: j.pid,
            comm: index.comm(j.comm).to_string(),
            via: via(j.via),
        },
    }
}

fn closed(index: &Index, clock: &Clock, c: &Closed) -> protocol::Lifetime {
    protocol::Lifetime {
        gen: c.gen,
        origin: origin(c.origin).into(),
        opened: stamp(clock, c.opened_ns),
        born_by: (c.origin == Origin::Born).then(|| protocol::Actor {
            pid: c.pid,
            comm: index.comm(c.comm).to_string(),
            via: via(c.via),
        }),
        run_started: index.run(c.run).map(|r| r.start.clone()),
        carried_over: false,
        joins: 0,
        last_join: None,
        tasks: None,
        last_task_left: None,
        puts: u32::from(c.puts),
        last_put: None,
        evicts: u32::from(c.evicts),
        last_evict: None,
        cleanup: None,
        lingered: None,
        ended: Some(Ended {
            at: stamp(clock, c.ended_ns),
            how: match c.end {
                End::Death => "death",
                End::Reused => "number_reused",
                End::Gap => "while_not_recording",
            }
            .into(),
            exact: c.exact,
            lifetime_ns: (c.origin == Origin::Born).then(|| c.ended_ns.saturating_sub(c.opened_ns)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use tracer_common::{Event, EventKind};

    use super::*;
    use crate::{
        index::Bounds,
        lifecycle::{EngineConfig, NoScan},
    };

    fn birth(inum: u32, ts: u64, pid: u32) -> Event {
        let mut e = Event::zeroed();
        e.kind = EventKind::Birth as u32;
        e.ns_type = NsType::Uts as u32;
        e.inum = inum;
        e.ts_ns = ts;
        e.ptr = 0xffff_8880_0000_1000 + u64::from(pid) * 0x100;
        e.pid = pid;
        e.tid = pid;
        e.via = Via::Unshare as u32;
        e
    }

    #[test]
    fn a_newer_lifetime_the_index_has_not_seen_yet_is_the_current_one() {
        let clock = Clock { boot_offset_ns: 0 };
        let mut engine = Engine::new(EngineConfig::default(), clock);
        let mut index = Index::new(Bounds::default());
        let s = 1_000_000_000;
        // gen 1 reaches both; then its death and gen 2's birth reach only
        // the engine (their records still held downstream).
        engine.push(&birth(7, s, 100));
        for r in engine.poll(3 * s, &mut NoScan) {
            index.apply(&r);
        }
        let mut death = birth(7, 4 * s, 100);
        death.kind = EventKind::Death as u32;
        engine.push(&death);
        engine.push(&birth(7, 5 * s, 200));
        let held = engine.poll(7 * s, &mut NoScan);
        assert_eq!(held.len(), 2, "{held:?}");
        assert_eq!(index.live(NsType::Uts, 7).map(|l| l.gen), Some(1));

        let now = current(&engine, &index, &clock, NsType::Uts, 7).expect("live");
        assert_eq!(now.gen, 2);
        assert_eq!(now.born_by.map(|b| b.pid), Some(200));

        for r in &held {
            index.apply(r);
        }
        let now = current(&engine, &index, &clock, NsType::Uts, 7).expect("live");
        assert_eq!((now.gen, now.born_by.map(|b| b.pid)), (2, Some(200)));
    }
}
