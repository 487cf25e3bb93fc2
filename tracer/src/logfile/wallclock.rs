//! RFC 3339 timestamps back to ns since the Unix epoch: the inverse of
//! `decode::rfc3339_utc`, accepting any offset so users can type local times.

/// Parses an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`,
/// with jiff, which also takes the ISO 8601 forms it extends). `None` for
/// anything else. Nanoseconds since the epoch fit an i64 only from 1677 to
/// 2262: a valid time outside that (`0001-01-01T00:00:00Z`, year 9999)
/// saturates to i64::MIN or i64::MAX, which as a bound (`--since`,
/// `--until`) or a sort key means the same, since no record lies beyond.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let ns = match s.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.as_nanosecond(),
        // jiff's instants end at 9999-12-30T22:00Z, so the last day of
        // year 9999 is refused as a Timestamp although it is a valid
        // RFC 3339 time: parse its pieces, and put it past the end.
        Err(_) => {
            let pieces = jiff::fmt::temporal::Pieces::parse(s).ok()?;
            pieces.time()?;
            pieces.to_numeric_offset()?;
            if pieces.date().year() > 0 {
                i128::MAX
            } else {
                i128::MIN
            }
        }
    };
    Some(i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::rfc3339_utc;

    #[test]
    fn inverts_the_formatter() {
        for ns in [
            0,
            -1,
            951_782_400_000_000_000,
            1_795_913_752_123_456_789,
            4_102_444_800_000_000_001,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339_utc(ns)), Some(ns), "{ns}");
        }
    }

    #[test]
    fn offsets_and_short_fractions() {
        assert_eq!(
            parse_rfc3339("2026-11-29T02:00:00.5+01:00"),
            parse_rfc3339("2026-11-29T01:00:00.500000000Z")
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn every_valid_year_is_accepted() {
        // Issue 11: years outside the i64 nanosecond range are valid RFC
        // 3339; they saturate rather than being refused.
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(i64::MIN));
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59.999999999Z"),
            Some(i64::MAX)
        );
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59+01:00"), Some(i64::MAX));
        // The edges of the i64 range itself are exact.
        assert_eq!(
            parse_rfc3339(&rfc3339_utc(i64::MAX)),
            Some(i64::MAX),
            "{}",
            rfc3339_utc(i64::MAX)
        );
        assert_eq!(parse_rfc3339(&rfc3339_utc(i64::MIN)), Some(i64::MIN));
        // And the lower case `t`/`z` RFC 3339 allows.
        assert_eq!(parse_rfc3339("1970-01-01t00:00:01z"), Some(1_000_000_000));
    }

    #[test]
    fn rejects_near_misses() {
        for bad in [
            "2026-11-29",
            "2026-02-30T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T00:00:00",
            "2026-11-29T00:00:00.Z",
            "2026-11-29T00:00:00Zjunk",
            "２026-11-29T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
