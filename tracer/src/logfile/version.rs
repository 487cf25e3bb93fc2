//! Which nstrace versions this reader understands: every older one (keys are
//! only ever added), none newer (a newer one may give a key a meaning we
//! would misread).

/// The version this build writes into its headers.
pub const OUR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether `version` (MAJOR.MINOR.PATCH, optionally with `-pre` or `+build`)
/// is newer than ours; `None` if it is not a version number.
pub fn is_newer_than_ours(version: &str) -> Option<bool> {
    Some(triple(version)? > triple(OUR_VERSION)?)
}

fn triple(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let t = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numerically() {
        assert_eq!(triple("0.10.2-rc1+abc"), Some((0, 10, 2)));
        assert_eq!(triple("1.2"), None);
        assert_eq!(triple("1.2.3.4"), None);
        assert_eq!(is_newer_than_ours("999.0.0"), Some(true));
        assert_eq!(is_newer_than_ours(OUR_VERSION), Some(false));
        assert_eq!(is_newer_than_ours("0.0.0"), Some(false));
        assert_eq!(is_newer_than_ours("next"), None);
    }
}
