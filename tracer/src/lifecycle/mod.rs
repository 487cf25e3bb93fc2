//! The lifecycle engine: joins every event about one namespace into one
//! lifetime keyed by (type, inode number, generation), and derives the
//! records that answer "why is this namespace still alive" (`linger`) and
//! "why is its teardown taking so long" (`cleanup_slow`).
//!
//! The daemon [`Engine::push`]es ring-buffer records as they arrive,
//! calls [`Engine::observe_tasks`] after each /proc scan, calls
//! [`Engine::on_lost`] when the drop counters grew, then
//! [`Engine::poll`]s with the same `now` and writes what comes out. Time is
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
//! record about it (join, evict, put, death) carries that gen. A birth on a
//! number that still has a live lifetime means that lifetime's death was
//! missed (lost, or invisible on this kernel): it is closed without a
//! record and counted in [`TypeCounts::missed_deaths`]. Net puts and
//! deaths are matched by kernel address first, since the inum may already
//! belong to a newer namespace when they are read. Anonymous mount
//! namespaces all share one inum (0, or [`MNT_NS_ANON_INO`] on 6.18), so
//! they are kept by address; each still takes the next gen of that inum.
//! The start-up scan's `present` records are released in time order like
//! events: a birth traced between attach and scan opens the lifetime and
//! the scan then only confirms it (still gen 1).
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
//! before the deadline means no linger), a `linger` record names its
//! holders: those the `holders` callback finds (the discovery module's
//! /proc scan), or, if it finds none, what the tracer itself saw: live
//! child namespaces (`child_ns`) and namespaces it owns (`owned_ns`) from
//! their births, a put not yet followed by a free, and otherwise one
//! `unknown` holder whose `detail` says what was and was not seen (the
//! tracer sees no opens, bind mounts or sockets). For a type whose deaths
//! the kernel side cannot see ([`EngineConfig::deaths_visible`]) an empty
//! answer from the callback most likely means it died unseen, so no linger
//! is written. Anonymous mount namespaces never have tasks and never
//! linger.
//!
//! **Cleanup runs.** A net put is queued; a `cleanup_start` takes every
//! queued net (`inums`, and `delays_ns` from each put to the start). A net
//! death goes to the run that took it, or to the latest open run when its
//! put was not seen; `cleanup_end` lists those deaths and the run's
//! `duration_ns`. A run still open `slow_cleanup_ns` after its start gets
//! one `cleanup_slow`.
//!
//! **Exactness.** A death is `exact` unless it was seen late
//! ([`tracer_common::DEATH_LATE`]) or records were lost while the lifetime
//! was open. A loss reported at `t` is taken to have happened anywhere
//! since the previous poll (the daemon reads the drop counters once per
//! poll); an `unseen` lifetime counts as open since tracing began, so any
//! earlier loss makes its death inexact. `lifetime_ns` is given only when
//! the birth was traced.
//!
//! **Memory.** A death removes its lifetime; only live namespaces, the
//! per-number generation counters and the buffered events cost memory.
//! A [`Lifetime`] is at most 96 bytes; joins and references are boxed
//! and only the first and latest join are kept.

mod cleanup;
mod config;
mod engine;
mod holder_source;
mod holders;
mod lifetime;
mod losses;
mod reorder;
mod synthetic;
#[cfg(test)]
mod tests;

pub use config::EngineConfig;
pub use engine::{Engine, Present, TypeCounts, MNT_NS_ANON_INO};
pub use holder_source::{HolderAnswer, HolderSource};
pub use lifetime::{BirthInfo, CommId, JoinRef, Lifetime, Origin};
pub use synthetic::synthetic_births;
