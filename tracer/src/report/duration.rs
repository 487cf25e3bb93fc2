//! Durations as people read and type them: `1.25s`, `3m05s`, `10m`, `1h30m`.

/// A short human form with three significant figures below a minute.
pub fn human(ns: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    let f = ns as f64;
    match ns {
        0..US => format!("{ns}ns"),
        US..MS => format!("{}µs", sig3(f / US as f64)),
        MS..S => format!("{}ms", sig3(f / MS as f64)),
        S..60_000_000_000 => format!("{}s", sig3(f / S as f64)),
        60_000_000_000..3_600_000_000_000 => {
            let s = ns / S;
            format!("{}m{:02}s", s / 60, s % 60)
        }
        3_600_000_000_000..86_400_000_000_000 => {
            let m = ns / (60 * S);
            format!("{}h{:02}m", m / 60, m % 60)
        }
        _ => {
            let h = ns / (3600 * S);
            format!("{}d{:02}h", h / 24, h % 24)
        }
    }
}

fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Parses `90s`, `10m`, `1h30m`, `2d`, `500ms` (units ns, us, ms, s, m, h,
/// d, each after a whole number) into ns.
pub fn parse(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_forms() {
        assert_eq!(human(999), "999ns");
        assert_eq!(human(1_250), "1.25µs");
        assert_eq!(human(42_100_000), "42.1ms");
        assert_eq!(human(1_250_000_000), "1.25s");
        assert_eq!(human(185_000_000_000), "3m05s");
        assert_eq!(human(5_400_000_000_000), "1h30m");
        assert_eq!(human(90_000_000_000_000), "1d01h");
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(parse("10m"), Some(600_000_000_000));
        assert_eq!(parse("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse("500ms"), Some(500_000_000));
        for bad in ["", "m", "10", "10x", "1.5h", "-5m", "99999999999999999999d"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
