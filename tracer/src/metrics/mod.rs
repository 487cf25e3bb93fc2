//! Prometheus metrics (`--metrics ADDR`), with prometheus-client. Names
//! and labels are listed in docs/agent.md.
//!
//! The pipeline writes every record here ([`Metrics`] is an [`Output`]);
//! per record that is an array increment, and histograms only on the few
//! records that carry a duration. Counters are moved into the registry,
//! and the gauges that need the engine's view are computed, only when
//! somebody scrapes ([`Metrics::render`]).

mod http;
mod limits;

use std::collections::BTreeMap;

use anyhow::Result;
use foldhash::{HashMap, HashMapExt as _};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};
use tracer_common::NsType;

pub use self::http::{serve, Scrape};
use crate::{
    lifecycle::Engine,
    output::Output,
    schema::{Record, RecordKind},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindType {
    kind: &'static str,
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    hook: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProgramLabel {
    program: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: String,
}

/// Puts remembered for put-to-death; more are forgotten, oldest first.
const MAX_PUTS: usize = 65_536;

/// Index of "no type" in the per-type arrays.
const NO_TYPE: usize = 8;

fn type_index(t: Option<NsType>) -> usize {
    t.map_or(NO_TYPE, |t| t as usize)
}

fn type_name(i: usize) -> &'static str {
    NsType::ALL.get(i).map_or("", |t| t.name())
}

fn lifetime_buckets() -> impl Iterator<Item = f64> {
    // 1 ms to about 12 days, ×4 a step.
    exponential_buckets(0.001, 4.0, 16)
}

fn short_buckets() -> impl Iterator<Item = f64> {
    // 100 µs to about 1.8 h, ×4 a step.
    exponential_buckets(0.0001, 4.0, 14)
}

pub struct Metrics {
    registry: Registry,
    events: Family<KindType, Counter>,
    lost: Counter,
    skipped: Family<ProgramLabel, Counter>,
    live: Family<TypeLabel, Gauge>,
    lingering: Family<TypeLabel, Gauge>,
    limit: Family<TypeLabel, Gauge>,
    lifetime: Vec<Histogram>,
    put_to_death: Vec<Histogram>,
    cleanup: Histogram,
    /// Records by kind and type since start, and what the registry has.
    counts: Vec<[u64; 9]>,
    pushed: Vec<[u64; 9]>,
    lost_total: u64,
    /// Runs skipped by the kernel per program, as the latest `lost` record
    /// about it says.
    skipped_total: BTreeMap<String, u64>,
    /// Latest put per (type, inum, gen), for put-to-death.
    puts: HashMap<(NsType, u32, u32), u64>,
}

impl Metrics {
    /// `methods`: hook → method (or "missing"), as the log header has it;
    /// `programs`: the eBPF programs attached, each shown from the start.
    pub fn new(methods: &BTreeMap<String, String>, programs: &[&str]) -> Metrics {
        let mut registry = Registry::default();
        let events = Family::<KindType, Counter>::default();
        registry.register(
            "nstrace_events",
            "Records written, by kind and namespace type (type is empty for records about no single namespace)",
            events.clone(),
        );
        let lost = Counter::default();
        registry.register(
            "nstrace_lost_events",
            "Records the kernel side could not deliver: the ring buffer was full",
            lost.clone(),
        );
        let skipped = Family::<ProgramLabel, Counter>::default();
        registry.register(
            "nstrace_bpf_missed_runs",
            "Runs of each of nstrace's eBPF programs that the kernel skipped (a run that would nest on a CPU, a kretprobe with every instance in use); the records they would have written are lost",
            skipped.clone(),
        );
        // Every program from the start, at 0: a series that appears only
        // once it counts something hides that it was watched.
        for p in programs {
            skipped
                .get_or_create(&ProgramLabel {
                    program: p.to_string(),
                })
                .inc_by(0);
        }
        let live = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "nstrace_namespaces_live",
            "Namespaces alive as the tracer sees them, by type",
            live.clone(),
        );
        let lingering = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "nstrace_namespaces_lingering",
            "Live namespaces that outlived their last task by the linger grace, by type",
            lingering.clone(),
        );
        let limit = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "nstrace_namespaces_limit",
            "The kernel's limit on namespaces of each type per user namespace (/proc/sys/user/max_*_namespaces)",
            limit.clone(),
        );
        let lifetime_family = Family::<TypeLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(lifetime_buckets())
        });
        registry.register(
            "nstrace_namespace_lifetime_seconds",
            "Birth to death of namespaces whose birth was traced, by type",
            lifetime_family.clone(),
        );
        let ptd_family =
            Family::<TypeLabel, Histogram>::new_with_constructor(
                || Histogram::new(short_buckets()),
            );
        registry.register(
            "nstrace_put_to_death_seconds",
            "From the last reference dropped (put) to the namespace's death, by type",
            ptd_family.clone(),
        );
        let cleanup = Histogram::new(short_buckets());
        registry.register(
            "nstrace_cleanup_net_duration_seconds",
            "Duration of the kernel's deferred net namespace cleanup runs (cleanup_net)",
            cleanup.clone(),
        );
        let hooks = Family::<HookLabels, Gauge>::default();
        registry.register(
            "nstrace_hook_method",
            "1 for the method each hook is attached with (method=\"missing\" when none could be)",
            hooks.clone(),
        );
        let by_method = Family::<MethodLabel, Gauge>::default();
        registry.register(
            "nstrace_hooks_attached",
            "Hooks attached, by method",
            by_method.clone(),
        );
        for (hook, method) in methods {
            hooks
                .get_or_create(&HookLabels {
                    hook: hook.clone(),
                    method: method.clone(),
                })
                .set(1);
            by_method
                .get_or_create(&MethodLabel {
                    method: method.clone(),
                })
                .inc();
        }
        // Histograms by type are taken once, so that a death costs no
        // family lookup.
        let per_type = |f: &Family<TypeLabel, Histogram>| -> Vec<Histogram> {
            NsType::ALL
                .iter()
                .map(|t| f.get_or_create_owned(&TypeLabel { r#type: t.name() }))
                .collect()
        };
        let lifetime = per_type(&lifetime_family);
        let put_to_death = per_type(&ptd_family);
        Metrics {
            registry,
            events,
            lost,
            skipped,
            live,
            lingering,
            limit,
            lifetime,
            put_to_death,
            cleanup,
            counts: vec![[0; 9]; RecordKind::ALL.len()],
            pushed: vec![[0; 9]; RecordKind::ALL.len()],
            lost_total: 0,
            skipped_total: BTreeMap::new(),
            puts: HashMap::new(),
        }
    }

    /// Brings the registry up to date with the records written and the
    /// engine's live namespaces.
    pub fn refresh(&mut self, engine: &Engine) {
        for (k, kind) in RecordKind::ALL.iter().enumerate() {
            for t in 0..9 {
                let delta = self.counts[k][t] - self.pushed[k][t];
                if delta > 0 {
                    self.events
                        .get_or_create(&KindType {
                            kind: kind.name(),
                            r#type: type_name(t),
                        })
                        .inc_by(delta);
                    self.pushed[k][t] = self.counts[k][t];
                }
            }
        }
        let delta = self.lost_total - self.lost.get();
        if delta > 0 {
            self.lost.inc_by(delta);
        }
        for (program, &total) in &self.skipped_total {
            let c = self.skipped.get_or_create(&ProgramLabel {
                program: program.clone(),
            });
            let delta = total.saturating_sub(c.get());
            if delta > 0 {
                c.inc_by(delta);
            }
        }
        let mut live = [0i64; 8];
        let mut lingering = [0i64; 8];
        for l in engine.live() {
            live[l.ns_type() as usize] += 1;
            if l.lingered() {
                lingering[l.ns_type() as usize] += 1;
            }
        }
        let limits = limits::read();
        for t in NsType::ALL {
            let label = TypeLabel { r#type: t.name() };
            self.live.get_or_create(&label).set(live[t as usize]);
            self.lingering
                .get_or_create(&label)
                .set(lingering[t as usize]);
            if let Some(max) = limits[t as usize] {
                self.limit.get_or_create(&label).set(max);
            }
        }
    }

    /// The exposition: OpenMetrics when the scraper asks for it (Prometheus
    /// does), otherwise the Prometheus text format (curl, promtool).
    pub fn render(&self, openmetrics: bool) -> (String, &'static str) {
        let mut out = String::new();
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
                .expect("writing to a String cannot fail");
            (
                out,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
                .expect("writing to a String cannot fail");
            (
                out,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )
        }
    }
}

impl Output for Metrics {
    fn write(&mut self, r: &Record) -> Result<()> {
        let t = type_index(r.ns_type);
        self.counts[r.event as usize][t] += 1;
        match r.event {
            RecordKind::Lost => match &r.program {
                // Each program's own total, apart from the ring's.
                Some(p) => {
                    let total = r.total.unwrap_or(0);
                    let seen = self.skipped_total.entry(p.clone()).or_default();
                    *seen = (*seen).max(total);
                }
                None => self.lost_total = r.total.unwrap_or(self.lost_total),
            },
            RecordKind::Put => {
                if let (Some(ty), Some(inum), Some(gen)) = (r.ns_type, r.inum, r.gen) {
                    if self.puts.len() >= MAX_PUTS {
                        // Puts whose death never came (invisible on this
                        // kernel): start again rather than grow.
                        self.puts.clear();
                    }
                    self.puts.insert((ty, inum, gen), r.mono_ns);
                }
            }
            RecordKind::Death => {
                if let (Some(ty), Some(inum), Some(gen)) = (r.ns_type, r.inum, r.gen) {
                    if let Some(l) = r.lifetime_ns {
                        self.lifetime[ty as usize].observe(l as f64 / 1e9);
                    }
                    if let Some(put) = self.puts.remove(&(ty, inum, gen)) {
                        self.put_to_death[ty as usize]
                            .observe(r.mono_ns.saturating_sub(put) as f64 / 1e9);
                    }
                }
            }
            RecordKind::CleanupEnd => {
                if let Some(d) = r.duration_ns {
                    self.cleanup.observe(d as f64 / 1e9);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
