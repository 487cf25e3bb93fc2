//! Records in, exposition out.

use tracer_common::NsType;

use super::*;
use crate::{decode::Clock, lifecycle::EngineConfig};

fn rec(kind: RecordKind, t: Option<NsType>, at: u64) -> Record {
    let mut r = Record::new(kind, at, String::new());
    r.ns_type = t;
    r.inum = Some(7);
    r.gen = Some(1);
    r
}

/// The value of the sample `name{labels}` in Prometheus text.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[test]
fn counters_histograms_and_hooks_reach_the_exposition() {
    let methods: BTreeMap<String, String> = [
        ("clone", "tracepoint"),
        ("unshare", "tracepoint"),
        ("put_net", "missing"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let mut m = Metrics::new(&methods, &["fexit_ksys_unshare", "kretprobe_copy_process"]);
    let s = 1_000_000_000;
    m.write(&rec(RecordKind::Birth, Some(NsType::Net), s))
        .unwrap();
    m.write(&rec(RecordKind::Birth, Some(NsType::Net), s))
        .unwrap();
    m.write(&rec(RecordKind::Put, Some(NsType::Net), 2 * s))
        .unwrap();
    let mut death = rec(RecordKind::Death, Some(NsType::Net), 5 * s);
    death.lifetime_ns = Some(4 * s);
    m.write(&death).unwrap();
    let mut end = rec(RecordKind::CleanupEnd, Some(NsType::Net), 5 * s);
    end.duration_ns = Some(s / 2);
    m.write(&end).unwrap();
    let mut lost = rec(RecordKind::Lost, None, 6 * s);
    lost.total = Some(9);
    m.write(&lost).unwrap();
    let mut skipped = rec(RecordKind::Lost, None, 6 * s);
    skipped.program = Some("kretprobe_copy_process".into());
    skipped.count = Some(4);
    skipped.total = Some(4);
    m.write(&skipped).unwrap();
    let engine = Engine::new(EngineConfig::default(), Clock { boot_offset_ns: 0 });
    m.refresh(&engine);
    let (text, ct) = m.render(false);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    assert_eq!(
        sample(&text, r#"nstrace_events_total{kind="birth",type="net"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"nstrace_events_total{kind="lost",type=""}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "nstrace_lost_events_total"),
        Some(9.0),
        "a program's skipped runs are not the ring's losses"
    );
    assert_eq!(
        sample(
            &text,
            r#"nstrace_bpf_missed_runs_total{program="kretprobe_copy_process"}"#
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"nstrace_bpf_missed_runs_total{program="fexit_ksys_unshare"}"#
        ),
        Some(0.0),
        "an attached program is shown before it misses anything"
    );
    assert_eq!(
        sample(
            &text,
            r#"nstrace_namespace_lifetime_seconds_count{type="net"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"nstrace_namespace_lifetime_seconds_sum{type="net"}"#
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(&text, r#"nstrace_put_to_death_seconds_sum{type="net"}"#),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "nstrace_cleanup_net_duration_seconds_sum"),
        Some(0.5)
    );
    assert_eq!(
        sample(&text, r#"nstrace_hooks_attached{method="tracepoint"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"nstrace_hook_method{hook="put_net",method="missing"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"nstrace_namespaces_live{type="net"}"#),
        Some(0.0)
    );
    if std::path::Path::new("/proc/sys/user/max_net_namespaces").exists() {
        assert!(sample(&text, r#"nstrace_namespaces_limit{type="net"}"#).is_some());
    }
    // A second refresh adds only what is new.
    m.write(&rec(RecordKind::Birth, Some(NsType::Net), 7 * s))
        .unwrap();
    m.refresh(&engine);
    let (text, _) = m.render(false);
    assert_eq!(
        sample(&text, r#"nstrace_events_total{kind="birth",type="net"}"#),
        Some(3.0)
    );
    let (om, ct) = m.render(true);
    assert!(ct.starts_with("application/openmetrics-text"));
    assert!(om.ends_with("# EOF\n"));
}
