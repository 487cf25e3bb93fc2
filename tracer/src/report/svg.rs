//! The lifetime timeline as SVG: one bar per namespace, grouped and coloured
//! by type, packed into lanes so that namespaces which never overlap share a
//! row. Past a few thousand, the short-lived ones that died are drawn as a
//! density strip per type instead, so the file stays small enough to open.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use super::summary::{Summary, UnknownCause};
use super::tally::{Bar, End};
use super::NS_TYPES;
use crate::decode::rfc3339_utc;
use crate::logfile::parse_rfc3339;

/// Namespaces drawn one by one at most; the rest are aggregated.
pub const MAX_BARS: usize = 5000;
/// Rows (lanes) at most, over all types.
const MAX_LANES: usize = 1500;
const WIDTH: f64 = 1200.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 20.0;
const PLOT: f64 = WIDTH - LEFT - RIGHT;
const TOP: f64 = 78.0;
const STRIP: f64 = 24.0;
const COLUMN: f64 = 2.0;

fn colour(ty: &str) -> &'static str {
    match ty {
        "mnt" => "#4e79a7",
        "uts" => "#f28e2b",
        "ipc" => "#e15759",
        "pid" => "#76b7b2",
        "net" => "#59a14f",
        "user" => "#edc948",
        "cgroup" => "#b07aa1",
        "time" => "#ff9da7",
        _ => "#9c755f",
    }
}

/// Maps wall-clock ns to x.
struct Scale {
    t0: i64,
    t1: i64,
}

impl Scale {
    fn x(&self, t: i64) -> f64 {
        // In f64: a log can span the whole i64 range (a hostile or far-future
        // `ts`), where the difference of two instants overflows.
        let t = t.clamp(self.t0, self.t1) as f64;
        LEFT + (t - self.t0 as f64) / self.span() * PLOT
    }

    fn span(&self) -> f64 {
        self.t1 as f64 - self.t0 as f64
    }
}

/// One type's section: the bars drawn, their lanes, and the aggregate.
struct Section<'a> {
    name: &'a str,
    drawn: Vec<(&'a Bar, usize)>,
    lanes: usize,
    aggregated: Vec<&'a Bar>,
}

pub fn render(s: &Summary, bars: &[Bar], types: &[String]) -> String {
    let first = s.first.as_deref().and_then(parse_rfc3339);
    let last = s.last.as_deref().and_then(parse_rfc3339);
    let t0 = bars
        .iter()
        .filter_map(|b| b.born)
        .chain(first)
        .min()
        .unwrap_or(0);
    let t1 = bars
        .iter()
        .map(|b| b.end)
        .chain(last)
        .max()
        .unwrap_or(t0)
        .max(t0.saturating_add(1));
    let scale = Scale { t0, t1 };
    let keep = chosen(bars, t0);
    let sections = sections(bars, &keep, types, &scale);
    let lanes: usize = sections.iter().map(|s| s.lanes).sum();
    // Rows of at least 2 px with a 1 px gap while they fit in about 1500 px;
    // past that, 1 px rows touching.
    let lane_h = (1500.0 / lanes.max(1) as f64 - 1.0)
        .clamp(1.0, 10.0)
        .floor();
    let mut body = String::new();
    let mut y = TOP + 12.0;
    let titles = keep.iter().filter(|&&k| k).count() <= MAX_BARS;
    for sec in &sections {
        y = section(&mut body, sec, &scale, y, lane_h, titles.then_some(s));
    }
    let height = y + 30.0;
    let mut o = String::with_capacity(body.len() + 4096);
    let _ = writeln!(
        o,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11" data-namespaces="{}">"#,
        bars.len()
    );
    o.push_str(
        r##"<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#ffffff" fill-opacity="0.55"/><line x1="0" y1="0" x2="0" y2="4" stroke="#222222" stroke-width="1.5"/></pattern></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
"##,
    );
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(&format!(
            "nstrace: {} namespace lifetimes, {} to {}",
            bars.len(),
            rfc3339_utc(t0),
            rfc3339_utc(t1)
        ))
    );
    legend(&mut o, &sections);
    axis(&mut o, &scale, height - 20.0);
    o.push_str(&body);
    o.push_str("</svg>\n");
    o
}

/// Which bars to draw one by one: all if few; else those a reader came for
/// (lingered, not dead, end unknown) and then the longest-lived.
fn chosen(bars: &[Bar], t0: i64) -> Vec<bool> {
    if bars.len() <= MAX_BARS {
        return vec![true; bars.len()];
    }
    let mut order: Vec<usize> = (0..bars.len()).collect();
    order.sort_by_key(|&i| {
        let b = &bars[i];
        let notable = b.linger_from.is_some() || b.how != End::Died;
        (
            Reverse(notable),
            Reverse(b.end.saturating_sub(b.born.unwrap_or(t0))),
            i,
        )
    });
    let mut keep = vec![false; bars.len()];
    for &i in order.iter().take(MAX_BARS) {
        keep[i] = true;
    }
    keep
}

/// Packs each type's kept bars into lanes, oldest first, each into the lane
/// that frees up earliest. If all types together need more than MAX_LANES,
/// each gets a share in proportion to its need, and bars that would need a
/// lane past it join the aggregate.
fn sections<'a>(
    bars: &'a [Bar],
    keep: &[bool],
    types: &'a [String],
    scale: &Scale,
) -> Vec<Section<'a>> {
    let mut order: Vec<usize> = (0..types.len()).collect();
    order.sort_by_key(|&t| {
        (
            NS_TYPES.iter().position(|n| *n == types[t]).unwrap_or(99),
            t,
        )
    });
    // Three pixels of time between neighbours in a lane keep them apart.
    let gap = (3.0 * scale.span() / PLOT).ceil() as i64;
    let of_type = |t: usize| {
        bars.iter()
            .zip(keep)
            .filter(move |(b, &k)| usize::from(b.ty) == t && k)
            .map(|(b, _)| b)
    };
    let need: Vec<usize> = order
        .iter()
        .map(|&t| pack(of_type(t), usize::MAX, scale.t0, gap).lanes)
        .collect();
    let total: usize = need.iter().sum();
    let mut out = Vec::new();
    for (&t, &need) in order.iter().zip(&need) {
        let cap = if total <= MAX_LANES {
            need
        } else {
            (need * MAX_LANES / total).max(8)
        };
        let mut sec = pack(of_type(t), cap, scale.t0, gap);
        sec.name = &types[t];
        sec.aggregated.extend(
            bars.iter()
                .zip(keep)
                .filter(|(b, &k)| usize::from(b.ty) == t && !k)
                .map(|(b, _)| b),
        );
        if !sec.drawn.is_empty() || !sec.aggregated.is_empty() {
            out.push(sec);
        }
    }
    out
}

/// Greedy interval packing into at most `cap` lanes; `bars` come sorted by
/// birth (the tally sorts them).
fn pack<'a>(bars: impl Iterator<Item = &'a Bar>, cap: usize, t0: i64, gap: i64) -> Section<'a> {
    let mut sec = Section {
        name: "",
        drawn: Vec::new(),
        lanes: 0,
        aggregated: Vec::new(),
    };
    let mut free: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    for b in bars {
        let start = b.born.unwrap_or(t0);
        let lane = match free.peek() {
            Some(&Reverse((end, lane))) if end.saturating_add(gap) <= start => {
                free.pop();
                lane
            }
            _ if sec.lanes < cap => {
                sec.lanes += 1;
                sec.lanes - 1
            }
            _ => {
                sec.aggregated.push(b);
                continue;
            }
        };
        free.push(Reverse((b.end.max(start), lane)));
        sec.drawn.push((b, lane));
    }
    sec
}

/// Draws one type's section from `y`; returns the y below it.
/// `titles`: the summary, when each bar gets a tooltip.
fn section(
    o: &mut String,
    sec: &Section,
    scale: &Scale,
    y: f64,
    lane_h: f64,
    titles: Option<&Summary>,
) -> f64 {
    let fill = colour(sec.name);
    let total = sec.drawn.len() + sec.aggregated.len();
    let _ = writeln!(
        o,
        r#"<g class="type" data-type="{0}"><text x="6" y="{1}" font-weight="bold">{0} ({total})</text>"#,
        esc(sec.name),
        y + 10.0
    );
    let pitch = if lane_h >= 2.0 { lane_h + 1.0 } else { lane_h };
    for (b, lane) in &sec.drawn {
        let top = y + *lane as f64 * pitch;
        let x0 = scale.x(b.born.unwrap_or(scale.t0));
        let w = (scale.x(b.end) - x0).max(1.0);
        let title = match titles {
            Some(s) => format!("<title>{}</title>", esc(&describe(sec.name, b, s))),
            None => String::new(),
        };
        // Born before tracing: an open left end, drawn fainter; an end the
        // run could not observe, paler still.
        let opacity = if b.how == End::NotObservable {
            r#" fill-opacity="0.3""#
        } else if b.born.is_none() {
            r#" fill-opacity="0.6""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<rect class="bar" x="{x0:.1}" y="{top:.1}" width="{w:.1}" height="{lane_h}" fill="{fill}"{opacity}>{title}</rect>"#
        );
        if let Some(l) = b.linger_from {
            let lx = scale.x(l);
            let lw = (scale.x(b.end) - lx).max(1.0);
            let _ = write!(
                o,
                r#"<rect class="linger" x="{lx:.1}" y="{top:.1}" width="{lw:.1}" height="{lane_h}" fill="url(#hatch)"/>"#
            );
        }
        if lane_h >= 2.0 && !matches!(b.how, End::Alive | End::NotObservable) {
            let tick = if b.how == End::Died {
                "#000000"
            } else {
                "#999999"
            };
            let _ = write!(
                o,
                r#"<rect class="end" x="{:.1}" y="{top:.1}" width="1.5" height="{lane_h}" fill="{tick}"/>"#,
                scale.x(b.end) - 1.0
            );
        }
        o.push('\n');
    }
    let mut y = y + sec.lanes as f64 * pitch;
    if !sec.aggregated.is_empty() {
        y += 4.0;
        aggregate(o, sec, scale, y, fill);
        y += STRIP;
    }
    o.push_str("</g>\n");
    y + 14.0
}

/// Namespaces alive per 2-pixel column, as bars of a histogram.
fn aggregate(o: &mut String, sec: &Section, scale: &Scale, y: f64, fill: &str) {
    let columns = (PLOT / COLUMN) as usize;
    let mut alive = vec![0u64; columns + 1];
    let col = |t: i64| ((scale.x(t) - LEFT) / COLUMN) as usize;
    for b in &sec.aggregated {
        let (a, z) = (col(b.born.unwrap_or(scale.t0)), col(b.end));
        for c in &mut alive[a.min(columns)..=z.min(columns)] {
            *c += 1;
        }
    }
    let peak = alive.iter().copied().max().unwrap_or(1).max(1);
    let _ = writeln!(
        o,
        r#"<g class="agg" data-count="{}"><text x="6" y="{}" font-size="9">+{} aggregated</text><text x="6" y="{}" font-size="9">peak {peak} alive</text>"#,
        sec.aggregated.len(),
        y + 9.0,
        sec.aggregated.len(),
        y + 20.0
    );
    for (i, &n) in alive.iter().enumerate().filter(|(_, &n)| n > 0) {
        let h = (n as f64 / peak as f64 * STRIP).max(1.0);
        let _ = write!(
            o,
            r#"<rect x="{:.1}" y="{:.1}" width="{COLUMN}" height="{h:.1}" fill="{fill}"/>"#,
            LEFT + i as f64 * COLUMN,
            y + STRIP - h
        );
    }
    o.push_str("\n</g>\n");
}

fn describe(ty: &str, b: &Bar, s: &Summary) -> String {
    let born = b
        .born
        .map_or("present when tracing began".to_string(), |t| {
            format!("born {}", rfc3339_utc(t))
        });
    let linger = b
        .linger_from
        .map(|t| format!(", last task left {}", rfc3339_utc(t)))
        .unwrap_or_default();
    let why = |cause: UnknownCause| {
        s.unknown_ends
            .iter()
            .find(|u| u.ns_type == ty && u.cause == cause)
            .map_or(cause.words(), |u| u.why.as_str())
            .to_string()
    };
    let end = match b.how {
        End::Died => format!("died {}", rfc3339_utc(b.end)),
        End::Alive => "alive at the end of the log".to_string(),
        End::NotObservable => format!("end not observable ({})", why(UnknownCause::NotObservable)),
        End::Unknown(cause) => format!(
            "end unknown after {}: {} ({})",
            rfc3339_utc(b.end),
            cause.words(),
            why(cause)
        ),
    };
    format!("{ty}:[{}] gen {}: {born}{linger}, {end}", b.inum, b.gen)
}

fn legend(o: &mut String, sections: &[Section]) {
    let mut x = LEFT;
    let y = 34.0;
    for sec in sections {
        let _ = write!(
            o,
            r#"<rect x="{x}" y="{}" width="12" height="10" fill="{}"/><text x="{}" y="{y}">{}</text>"#,
            y - 9.0,
            colour(sec.name),
            x + 16.0,
            esc(sec.name)
        );
        x += 24.0 + 7.0 * sec.name.len() as f64;
    }
    let _ = writeln!(
        o,
        r##"<rect x="{x}" y="{}" width="24" height="10" fill="#888888"/><rect x="{x}" y="{}" width="24" height="10" fill="url(#hatch)"/><text x="{}" y="{y}">lingering (no task left)</text><rect x="{}" y="{}" width="2" height="10" fill="#000000"/><text x="{}" y="{y}">death</text><text x="{}" y="{y}">faint: born before tracing; no end mark: alive at the end; pale: end not observable; grey mark: end unknown</text>"##,
        y - 9.0,
        y - 9.0,
        x + 28.0,
        x + 170.0,
        y - 9.0,
        x + 176.0,
        x + 220.0
    );
}

fn axis(o: &mut String, scale: &Scale, bottom: f64) {
    let span = scale.t1.saturating_sub(scale.t0);
    let step = nice_step(span / 6);
    let first = scale
        .t0
        .div_euclid(step)
        .saturating_mul(step)
        .saturating_add(step);
    let mut t = first;
    // Six or seven ticks; the bound holds even where the span saturated.
    for _ in 0..8 {
        if t >= scale.t1 {
            break;
        }
        let x = scale.x(t);
        let label = rfc3339_utc(t);
        // Date once, then times: the axis rarely spans days.
        let shown = if t == first || step >= 86_400_000_000_000 {
            &label[..19]
        } else {
            &label[11..19]
        };
        let _ = writeln!(
            o,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bottom}" stroke="#dddddd"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#555555">{}</text>"##,
            TOP - 6.0,
            TOP - 10.0,
            esc(shown)
        );
        t = t.saturating_add(step);
    }
}

/// A round tick interval (1, 2, 5 × 10^k seconds, or minutes/hours/days).
fn nice_step(raw: i64) -> i64 {
    const S: i64 = 1_000_000_000;
    let steps = [
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
        200_000, 500_000,
    ]
    .map(|ms| ms * 1_000_000)
    .into_iter()
    .chain([
        S,
        2 * S,
        5 * S,
        10 * S,
        15 * S,
        30 * S,
        60 * S,
        120 * S,
        300 * S,
        600 * S,
        900 * S,
        1800 * S,
    ])
    .chain([
        3600 * S,
        7200 * S,
        10800 * S,
        21600 * S,
        43200 * S,
        86_400 * S,
        7 * 86_400 * S,
    ]);
    let mut last = 1;
    for s in steps {
        last = s;
        if s >= raw {
            break;
        }
    }
    last.max(raw.div_euclid(last).max(1) * last)
}

/// Escapes text for XML content and attribute values, after making
/// control characters and bidi marks visible (`sanitize::escape`): XML 1.0
/// forbids most controls even as references, and a viewer would apply the
/// marks.
fn esc(s: &str) -> String {
    let s = crate::sanitize::escape(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
