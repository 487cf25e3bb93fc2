//! `nstrace ls` against util-linux `lsns`: every namespace lsns lists, ls
//! lists too, with the same inode and type. Run as root:
//! `cargo test -p tracer --test discovery_lsns -- --test-threads=1`.

use std::collections::BTreeSet;
use std::process::Command;

use tracer::discovery::{scan, type_from_name, NsRef};

fn lsns() -> BTreeSet<(String, u32)> {
    let out = Command::new("lsns")
        .args(["-J", "-o", "NS,TYPE"])
        .output()
        .expect("run lsns (util-linux)");
    assert!(
        out.status.success(),
        "lsns failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let inum = n["ns"]
                .as_u64()
                .or_else(|| n["ns"].as_str()?.parse().ok())
                .unwrap();
            (n["type"].as_str().unwrap().to_string(), inum as u32)
        })
        .collect()
}

#[test]
fn ls_lists_everything_lsns_lists() {
    let before = lsns();
    assert!(!before.is_empty());
    let inv = scan().unwrap();
    let missing: Vec<&(String, u32)> = before
        .iter()
        .filter(|(t, inum)| {
            let t = type_from_name(t).unwrap_or_else(|| panic!("lsns type {t} unknown to nstrace"));
            inv.get(NsRef::new(t, *inum)).is_none()
        })
        .collect();
    // Other processes come and go: only a namespace lsns still lists after
    // our scan counts as missed.
    let after = lsns();
    let missed: Vec<_> = missing.into_iter().filter(|m| after.contains(*m)).collect();
    assert!(
        missed.is_empty(),
        "lsns lists these, nstrace ls does not: {missed:?}"
    );
}
