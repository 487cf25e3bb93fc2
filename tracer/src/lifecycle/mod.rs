//! The lifecycle engine: joins every event about one namespace into one
//! lifetime keyed by (type, inode number, generation), and derives the
//! records that answer "why is this namespace still alive" (`linger`) and
//! "why is its teardown taking so long" (`cleanup_slow`).
//!
//! The daemon [`Engine::push`]es ring-buffer records as they arrive,
//! calls [`Engine::observe_tasks`] after each /proc scan, calls
//! [`Engine::on_lost`] when the drop counters grew, then
//! [`Engine::poll`]s with the same `now` and a [`HolderSource`], and
//! writes what comes out. Time is
//! always an argument (CLOCK_BOOTTIME ns, the clock of `Event::ts_ns`); the
//! engine never reads a clock.
//!
//! # Rules
//!
//! **Order.** An item is held until `now - reorder_window_ns` has passed
//! its timestamp, then released in timestamp order (arrival order on
//! ties), so records from different CPUs come out as they happened. An
//! event that arrives later than that is still applied, out of order, and
//! counted by [`Engine::late_events`].
//!
//! **Generation.** Every (type, inum) has a counter that starts at 0 with
//! the trace. A birth, a namespace found by the start-up scan, or the first
//! event about a namespace the engine does not know (an `unseen` one: alive
//! before tracing and not found by the scan, or its birth was lost) takes
//! the next number; the first lifetime of a number is gen 1. Every later
//! record about it (join, evict, put, death) carries that gen. Anonymous
//! mount namespaces all share one inum (0, or [`MNT_NS_ANON_INO`] on 6.18),
//! so they are kept by address; each still takes the next gen of that inum.
//! The start-up scan's `present` records are released in time order like
//! events: a birth traced between attach and scan opens the lifetime and
//! the scan then only confirms it (still gen 1).
//!
//! **Identity.** A join, evict, put or death is tied to its lifetime by
//! what cannot be reused while it lives: `ns_id` (6.18+), then the struct's
//! address noted at birth (an address names another lifetime only if the
//! event's inum differs: the memory was reused). Failing those, by number,
//! but only when nothing the event names contradicts what the lifetime with
//! that number knows (a namespace found by the scan learns its address from
//! its first event). A death that fits no lifetime while another holds its
//! number is written with no gen and `end: unidentified`, charged to none.
//! A join, evict or put is read while its namespace is alive and owns its
//! number, so one that contradicts the lifetime holding that number ends it.
//!
//! **Reuse.** A birth on a number (or struct address, an anonymous mount
//! namespace's included) that a live lifetime still holds means that
//! lifetime's death was missed (lost, or invisible on this kernel, as an
//! anonymous mount namespace's is on 6.18): it is ended in the log first, by a `death` with
//! `end: reused` and `exact: false` dated at the reuse, and counted in
//! [`TypeCounts::missed_deaths`]. A net reused while a cleanup run is open
//! is the exception: on tracepoint kernels its death is read at the end of
//! the run that freed it, after the release that let the number go, so it
//! waits ([`Engine::waiting`]) until the runs open at the reuse end, and
//! gets the `end: reused` death (dated at the reuse) only if none came.
//!
//! **Last task left.** Task counts come only from the /proc scans
//! ([`Engine::observe_tasks`]); a namespace missing from a scan has no
//! task. The last task left at the first scan that sees zero after a scan
//! that saw some (so `since_last_task_ns` may be short by up to one scan
//! interval). A namespace no scan ever saw with a task counts from its
//! opening: from its birth (long by however briefly a first task lived
//! in it, under one scan interval), or, when found by the start-up scan
//! or first seen through an event, from then (its tasks, if any, may have
//! left earlier, at a time the tracer cannot know). A
//! scan that sees tasks again clears it. Scans apply to lifetimes already
//! released; one whose birth is still in the reorder buffer is counted by
//! the next scan.
//!
//! **Linger.** Once per lifetime, when a namespace has had no task for
//! `linger_grace_ns` (checked in time order with the events, so a death
//! before the deadline means no linger), the engine asks its
//! [`HolderSource`] about it, for a scan taken no earlier than the
//! deadline. `Found` gives a `linger` record with those holders once every
//! event up to the answer is applied (the scan looked the namespace up by
//! number: if meanwhile it died or a newer namespace took the number, or
//! the scan saw a task in it, there is no linger); `NotFound`
//! means it is dead or dying (a net waiting for its cleanup run): no linger,
//! counted in [`TypeCounts::gone_at_check`], and where the type's deaths
//! are visible its `death` follows. `NotYet` is asked again at each poll
//! once the events up to that poll are applied, so a death meanwhile
//! settles it. `NotScanned` (`--no-scan`) falls back to what the tracer
//! saw: live child namespaces (`child_ns`) and namespaces it owns
//! (`owned_ns`) from their births, a put not yet followed by a free, and
//! otherwise one `unknown` holder whose `detail` says what was and was not
//! seen; for a type whose deaths the kernel side cannot see
//! ([`EngineConfig::deaths_visible`]) it writes nothing. Anonymous mount
//! namespaces never have tasks and never linger.
//!
//! **Cleanup runs.** A net put is queued; a `cleanup_start` takes every
//! queued net (`inums`, and `delays_ns` from each put to the start). A net
//! death goes to the run that took it, or to the latest open run when its
//! put was not seen; `cleanup_end` lists those deaths and the run's
//! `duration_ns`. A run still open `slow_cleanup_ns` after its start gets
//! one `cleanup_slow`. Runs never overlap (one work item on an ordered
//! workqueue), so a run still open when the next starts lost its end
//! record: it is over, without a `cleanup_end`.
//!
//! **Exactness.** A death is `exact` unless it was seen late
//! ([`tracer_common::DEATH_LATE`]: then `within_ns` says how late at most),
//! records were lost while the lifetime was open, or it carries `end`. A
//! loss reported at `t` is taken to have happened anywhere since the
//! previous poll (the daemon reads the drop counters once per poll); an
//! `unseen` lifetime counts as open since tracing began, so any earlier loss
//! makes its death inexact. `lifetime_ns` is given only when the birth was
//! traced and the kernel reported the death.
//!
//! **Memory.** A death removes its lifetime; only live namespaces (and
//! their address and id index entries), the per-number generation counters
//! and the buffered events cost memory.
//! A [`Lifetime`] is at most 96 bytes; joins and references are boxed
//! and only the first and latest join are kept.

mod cleanup;
mod config;
mod engine;
mod holders;
mod identity;
mod lifetime;
mod linger;
mod linger_timers;
mod lives;
mod losses;
mod reorder;
mod synthetic;
#[cfg(test)]
mod tests;

pub use config::EngineConfig;
pub use engine::{Engine, Present, TypeCounts, MNT_NS_ANON_INO};
pub use lifetime::{BirthInfo, CommId, JoinRef, Lifetime, Origin};
pub use linger::{answer_from_inventory, HolderAnswer, HolderSource, NoScan};
pub use synthetic::synthetic_births;
