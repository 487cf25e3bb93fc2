//! When ring-buffer records were lost, so that lifetimes open at the time
//! can be marked as no longer vouched for.

/// Time windows `(after, upto]` in which records may have been lost. The
/// daemon reads the drop counters once per poll, so a loss reported at
/// `upto` happened after the previous poll (`after`).
#[derive(Default)]
pub(super) struct LossLog {
    windows: Vec<(u64, u64)>,
}

impl LossLog {
    pub(super) fn add(&mut self, after: u64, upto: u64) {
        let after = after.min(upto);
        // Consecutive lossy polls share an edge; one window keeps the list
        // short under sustained overload.
        if let Some(last) = self.windows.last_mut() {
            if after <= last.1 {
                last.0 = last.0.min(after);
                last.1 = last.1.max(upto);
                return;
            }
        }
        self.windows.push((after, upto));
    }

    /// Whether a lifetime open over `[open, close]` may have lost records.
    pub(super) fn overlaps(&self, open: u64, close: u64) -> bool {
        self.windows
            .iter()
            .any(|&(after, upto)| open <= upto && close > after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lifetimes_open_during_a_window_overlap_it() {
        let mut l = LossLog::default();
        l.add(100, 200);
        assert!(l.overlaps(50, 150));
        assert!(l.overlaps(150, 300));
        assert!(l.overlaps(0, 101));
        assert!(!l.overlaps(0, 100), "closed before the window opened");
        assert!(!l.overlaps(201, 300), "opened after the window");
        l.add(200, 250);
        assert_eq!(l.windows, [(100, 250)]);
        l.add(400, 500);
        assert_eq!(l.windows.len(), 2);
    }
}
