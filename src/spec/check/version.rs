//! `ociVersion`: a SemVer 2.0.0 version of the 1.x runtime spec.
//!
//! The spec keeps compatibility within a major version, so any 1.x config is ours to run
//! (`1.0.2-dev`, `1.2.0`, `1.1.0+build`); another major version or a non-version is not.

use super::Spec;
use crate::error::Error;

const FIELD: &str = "ociVersion";

/// `ociVersion` is present, a semantic version, and of major version 1.
pub(super) fn oci_version(spec: &Spec) -> Result<(), Error> {
    let version = spec.version();
    if version.is_empty() {
        return Err(Error::invalid(FIELD, "is required"));
    }
    let Some(major) = semver_major(version) else {
        return Err(Error::invalid(
            FIELD,
            format!("{version:?} is not a semantic version"),
        ));
    };
    if major != 1 {
        return Err(Error::invalid(
            FIELD,
            format!("unsupported version {version:?}: want 1.x"),
        ));
    }
    Ok(())
}

/// The major number of a SemVer 2.0.0 string: `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, numbers
/// without leading zeros, identifiers of `[0-9A-Za-z-]` separated by dots.
fn semver_major(version: &str) -> Option<u64> {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    if !pre.is_none_or(identifiers_ok) || !build.is_none_or(identifiers_ok) {
        return None;
    }
    let mut parts = core.split('.');
    let major = number(parts.next()?)?;
    number(parts.next()?)?;
    number(parts.next()?)?;
    parts.next().is_none().then_some(major)
}

fn number(s: &str) -> Option<u64> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = s.len() > 1 && s.starts_with('0');
    if digits_only && !leading_zero {
        s.parse().ok()
    } else {
        None
    }
}

fn identifiers_ok(s: &str) -> bool {
    s.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::testutil::{assert_invalid, patched};

    fn with_version(version: &str) -> Spec {
        patched(|v| v["ociVersion"] = version.into())
    }

    #[test]
    fn accepts_1x() {
        for ok in [
            "1.0.0",
            "1.0.2-dev",
            "1.1.0",
            "1.2.0",
            "1.0.0-rc.1+build.5",
            "1.10.3",
        ] {
            oci_version(&with_version(ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn rejects_other_major() {
        assert_invalid(oci_version(&with_version("2.0.0")), FIELD, "want 1.x");
        assert_invalid(oci_version(&with_version("0.5.0-dev")), FIELD, "want 1.x");
    }

    #[test]
    fn rejects_non_versions() {
        for bad in [
            "abc", "1", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0+", "1.x.0", "v1.0.0",
        ] {
            assert_invalid(
                oci_version(&with_version(bad)),
                FIELD,
                "not a semantic version",
            );
        }
    }

    #[test]
    fn rejects_empty() {
        assert_invalid(oci_version(&with_version("")), FIELD, "is required");
    }
}
