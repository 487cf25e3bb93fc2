//! `nstrace report --svg`: well-formed XML (checked by a small parser of our
//! own) with one bar per namespace, or bars plus aggregates that add up to
//! every namespace when there are too many to draw one by one.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tracer::decode::rfc3339_utc;
use tracer::schema::{Holder, HolderKind, Record, RecordKind};
use tracer_common::{NsType, Via};

/// One element of the document: its name and attributes.
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
}

/// Parses `doc` as XML 1.0 far enough to prove it well-formed: one root,
/// tags balanced and nested, attributes quoted and unique, `&` only in
/// known entities, no `<` in text or attribute values. Returns every element.
fn parse_xml(doc: &str) -> Result<Vec<Element>, String> {
    let b = doc.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut roots = 0;
    let check_text = |t: &str, at: usize| -> Result<(), String> {
        let mut rest = t;
        while let Some(p) = rest.find('&') {
            rest = &rest[p + 1..];
            let end = rest.find(';').ok_or(format!("bare & at {at}"))?;
            let ent = &rest[..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty());
            if !ok {
                return Err(format!("unknown entity &{ent}; at {at}"));
            }
        }
        if t.contains('<') {
            return Err(format!("< in text or value at {at}"));
        }
        if t.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(format!("control character at {at}"));
        }
        Ok(())
    };
    if doc.starts_with("<?xml") {
        i = doc.find("?>").ok_or("unterminated XML declaration")? + 2;
    }
    while i < b.len() {
        if b[i] != b'<' {
            let end = doc[i..].find('<').map_or(b.len(), |p| i + p);
            let text = &doc[i..end];
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root at {i}"));
            }
            check_text(text, i)?;
            i = end;
            continue;
        }
        if doc[i..].starts_with("<!--") {
            i += doc[i..].find("-->").ok_or("unterminated comment")? + 3;
            continue;
        }
        let end = i + doc[i..]
            .find('>')
            .ok_or(format!("unterminated tag at {i}"))?;
        let tag = &doc[i + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or(format!("</{name}> closes nothing at {i}"))?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}> at {i}"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-')
            {
                return Err(format!("bad element name {name:?} at {i}"));
            }
            let mut attrs = BTreeMap::new();
            let mut rest = body[name_end..].trim_start();
            while !rest.is_empty() {
                let eq = rest
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}> at {i}"))?;
                let key = rest[..eq].trim();
                let quote = rest[eq + 1..].chars().next().ok_or("missing quote")?;
                if quote != '"' && quote != '\'' {
                    return Err(format!("unquoted attribute {key} at {i}"));
                }
                let vstart = eq + 2;
                let vlen = rest[vstart..]
                    .find(quote)
                    .ok_or(format!("unterminated value of {key} at {i}"))?;
                let value = &rest[vstart..vstart + vlen];
                check_text(value, i)?;
                if attrs.insert(key.to_string(), value.to_string()).is_some() {
                    return Err(format!("attribute {key} twice at {i}"));
                }
                rest = rest[vstart + vlen + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            out.push(Element {
                name: name.to_string(),
                attrs,
            });
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        i = end + 1;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(out)
}

#[test]
fn the_checker_refuses_broken_xml() {
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a x=1/>",
        "<a>&nbsp;</a>",
        "<a>x & y</a>",
        "<a/><b/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a t=\"<\"/>",
    ] {
        assert!(parse_xml(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse_xml("<?xml version=\"1.0\"?>\n<a k='v'><b/>&amp;&#38;</a>\n")
            .unwrap()
            .len(),
        2
    );
}

fn svg_of(args: &[&str]) -> (String, i32) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .arg("report")
        .arg("--svg")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(o.stdout).unwrap(),
        o.status.code().unwrap(),
    )
}

/// Bars drawn one by one, and namespaces folded into aggregates.
fn counts(svg: &str) -> (usize, usize) {
    let elements = parse_xml(svg).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    let class = |e: &Element, c: &str| e.attrs.get("class").is_some_and(|v| v == c);
    let bars = elements
        .iter()
        .filter(|e| e.name == "rect" && class(e, "bar"))
        .count();
    let aggregated = elements
        .iter()
        .filter(|e| class(e, "agg"))
        .map(|e| e.attrs["data-count"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(
        elements[0].attrs["data-namespaces"]
            .parse::<usize>()
            .unwrap(),
        bars + aggregated
    );
    (bars, aggregated)
}

#[test]
fn sample_has_one_bar_per_namespace() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let (svg, code) = svg_of(&[
        data.join("sample.jsonl").to_str().unwrap(),
        data.join("sample.jsonl.1").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    // 10 present when tracing began, 13 born (one inode number twice).
    assert_eq!(counts(&svg), (23, 0));
    // Both lingering nets show their lingering stretch.
    assert_eq!(svg.matches("class=\"linger\"").count(), 2);
}

const WALL0: i64 = 1_795_910_400_000_000_000;

fn rec(kind: RecordKind, mono: u64) -> Record {
    Record::new(kind, mono, rfc3339_utc(WALL0 + mono as i64))
}

/// A node's churn: `n` namespaces born one per 100 ms, each living 1 s to
/// 2 min; every 97th lingers before dying, every 50th is still alive.
fn churn_log(n: u64, odd_type: NsType) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-svg-{n}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("churn.jsonl");
    let mut events: Vec<Record> = Vec::new();
    let mut h = rec(RecordKind::Header, 0);
    h.version = Some(env!("CARGO_PKG_VERSION").into());
    h.kernel = Some("6.18.44".into());
    h.methods = Some(BTreeMap::new());
    h.start = Some(h.ts.clone());
    h.boot_offset_ns = Some(WALL0);
    let types = [NsType::Net, NsType::Mnt, NsType::Uts, NsType::Pid, odd_type];
    for i in 0..n {
        let born = 1_000_000 + i * 100_000_000;
        let life = 1_000_000_000 + (i * 7919 % 120) * 1_000_000_000;
        let ty = types[(i % 5) as usize];
        let mut b = rec(RecordKind::Birth, born);
        b.ns_type = Some(ty);
        b.inum = Some(4_026_532_000 + i as u32);
        b.gen = Some(1);
        b.comm = Some("containerd-shim".into());
        b.via = Some(Via::Clone3);
        events.push(b);
        if i % 50 == 0 {
            continue;
        }
        let mut d = rec(RecordKind::Death, born + life);
        d.ns_type = Some(ty);
        d.inum = Some(4_026_532_000 + i as u32);
        d.gen = Some(1);
        d.lifetime_ns = Some(life);
        d.exact = Some(true);
        if i % 97 == 0 {
            let mut l = rec(RecordKind::Linger, born + life / 2);
            l.ns_type = Some(ty);
            l.inum = d.inum;
            l.gen = Some(1);
            l.since_last_task_ns = Some(life / 4);
            l.holders = Some(vec![Holder {
                kind: HolderKind::Fd,
                pid: Some(1),
                ..Holder::default()
            }]);
            events.push(l);
        }
        events.push(d);
    }
    events.sort_by_key(|r| r.mono_ns);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for r in std::iter::once(&h).chain(&events) {
        serde_json::to_writer(&mut f, r).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
    path
}

#[test]
fn a_few_thousand_namespaces_are_all_drawn() {
    let path = churn_log(3000, NsType::Ipc);
    let (svg, code) = svg_of(&[path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(counts(&svg), (3000, 0));
}

#[test]
fn beyond_that_the_short_lived_are_aggregated() {
    let path = churn_log(20_000, NsType::Ipc);
    let (svg, code) = svg_of(&[path.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (bars, aggregated) = counts(&svg);
    assert_eq!(bars + aggregated, 20_000);
    assert_eq!(bars, 5000);
    // Every lingering namespace is among those drawn.
    let lingered = (0..20_000u64)
        .filter(|i| i % 97 == 0 && i % 50 != 0)
        .count();
    assert_eq!(svg.matches("class=\"linger\"").count(), lingered);
}

#[test]
fn hostile_type_names_are_refused_and_the_rest_drawn() {
    let path = churn_log(20, NsType::Ipc);
    // Every fifth namespace is ipc: give those a type no kernel has.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(r#""type":"ipc""#, r#""type":"x<&\"'y""#),
    )
    .unwrap();
    let (svg, code) = svg_of(&[path.to_str().unwrap()]);
    assert_eq!(code, 1, "a log with unknown types is a problem");
    assert_eq!(counts(&svg), (16, 0));
    assert!(!svg.contains("x<"));
}
