//! Percentiles of durations, by nearest rank: every figure shown is a value
//! that was really measured, never an interpolation between two.

use serde::Serialize;

/// Count, median, tail and maximum of a set of durations in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Spread {
    /// Sorts `values` in place; `None` if there are none.
    pub fn of(values: &mut [u64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        Some(Spread {
            count: values.len() as u64,
            p50_ns: nearest_rank(values, 50),
            p90_ns: nearest_rank(values, 90),
            p99_ns: nearest_rank(values, 99),
            max_ns: values[values.len() - 1],
        })
    }
}

/// The smallest value with at least `pct`% of values at or below it.
/// `sorted` must be sorted and non-empty.
fn nearest_rank(sorted: &[u64], pct: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (pct * n).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_to_hundred() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let s = Spread::of(&mut v).unwrap();
        assert_eq!(
            (s.count, s.p50_ns, s.p90_ns, s.p99_ns, s.max_ns),
            (100, 50, 90, 99, 100)
        );
        assert_eq!(Spread::of(&mut []), None);
        let s = Spread::of(&mut [7]).unwrap();
        assert_eq!((s.p50_ns, s.p99_ns, s.max_ns), (7, 7, 7));
    }

    proptest! {
        #[test]
        fn bounds_hold(mut v in proptest::collection::vec(any::<u64>(), 1..200)) {
            let s = Spread::of(&mut v).unwrap();
            let below = |x: u64| v.iter().filter(|&&y| y <= x).count() as u64;
            prop_assert!(s.p50_ns <= s.p90_ns && s.p90_ns <= s.p99_ns && s.p99_ns <= s.max_ns);
            prop_assert!(below(s.p50_ns) * 100 >= 50 * s.count);
            prop_assert!(below(s.p99_ns) * 100 >= 99 * s.count);
            prop_assert!(v.contains(&s.p90_ns));
        }
    }
}
