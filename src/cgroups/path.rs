//! `linux.cgroupsPath` → the container's cgroup, as runc resolves it for the cgroupfs
//! driver: absolute = from the cgroup2 root; relative = under our own cgroup; empty = the
//! default `/sangja/<id>`. `--systemd-cgroup` (and `slice:prefix:name` paths) are recognised
//! and refused with a clear error until a D-Bus driver exists.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Parent of the default cgroup: `/sangja/<id>` from the cgroup2 root, like Docker's
/// cgroupfs default `/docker/<id>`. Not under our own cgroup: that one usually holds
/// processes (a login session, a service) and the no-internal-processes rule of cgroup v2
/// would then forbid enabling controllers there.
pub const DEFAULT_PARENT: &str = "/sangja";

const FIELD: &str = "linux.cgroupsPath";

/// Which cgroup manager the user asked for (`--systemd-cgroup` → `Systemd`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Driver {
    /// Write cgroupfs ourselves.
    #[default]
    Fs,
    /// Ask systemd over D-Bus (not implemented: always an error today).
    Systemd,
}

/// A normalised absolute cgroup path inside the cgroup2 hierarchy (`/sangja/abc`), the form
/// `/proc/<pid>/cgroup` uses. Stored in state.json as a plain string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CgroupPath(String);

impl CgroupPath {
    /// Check and normalise an absolute path: no `.`/`..` components, no empty path.
    pub fn new(abs: &str) -> Result<CgroupPath, Error> {
        if !abs.starts_with('/') {
            return Err(Error::invalid(FIELD, format!("{abs:?} is not absolute")));
        }
        let mut out = String::new();
        for comp in abs.split('/').filter(|c| !c.is_empty()) {
            check_component(abs, comp)?;
            out.push('/');
            out.push_str(comp);
        }
        if out.is_empty() {
            return Err(Error::invalid(
                FIELD,
                format!("{abs:?} names the cgroup2 root; a container needs its own cgroup"),
            ));
        }
        Ok(CgroupPath(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's components (`["sangja", "abc"]`).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }
}

impl fmt::Display for CgroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CgroupPath {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        CgroupPath::new(&s)
    }
}

impl From<CgroupPath> for String {
    fn from(p: CgroupPath) -> String {
        p.0
    }
}

fn check_component(whole: &str, comp: &str) -> Result<(), Error> {
    if comp == "." || comp == ".." {
        return Err(Error::invalid(
            FIELD,
            format!("{whole:?} contains {comp:?}; give the path without it"),
        ));
    }
    if comp.len() > 255 || comp.contains('\0') {
        return Err(Error::invalid(
            FIELD,
            format!("{whole:?} has an invalid component"),
        ));
    }
    Ok(())
}

/// Resolve the container's cgroup. `own` is our own cgroup (`Hierarchy::own`).
///
/// - `Some("/a/b")` → `/a/b`;
/// - `Some("a/b")` → `<own>/a/b` (runc's rule for relative paths);
/// - `None` or `Some("")` → `/sangja/<id>`;
/// - `Driver::Systemd`, or a `slice:prefix:name` path → error: no systemd driver yet.
pub fn resolve_path(
    cgroups_path: Option<&str>,
    id: &str,
    own: &str,
    driver: Driver,
) -> anyhow::Result<CgroupPath> {
    if driver == Driver::Systemd {
        anyhow::bail!("{}", systemd_unsupported());
    }
    let given = cgroups_path.unwrap_or("");
    if looks_like_systemd(given) {
        return Err(Error::invalid(
            FIELD,
            format!(
                "{given:?} is a systemd slice:prefix:name path, which needs --systemd-cgroup; {}",
                systemd_unsupported()
            ),
        )
        .into());
    }
    let abs = if given.is_empty() {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(Error::invalid(FIELD, format!("no path and an unusable id {id:?}")).into());
        }
        format!("{DEFAULT_PARENT}/{id}")
    } else if given.starts_with('/') {
        given.to_string()
    } else {
        format!("{}/{}", own.trim_end_matches('/'), given)
    };
    Ok(CgroupPath::new(&abs)?)
}

/// `slice:prefix:name` (systemd driver syntax): three colon-separated parts, no slash, the
/// first empty or a `.slice` unit.
fn looks_like_systemd(p: &str) -> bool {
    let parts: Vec<&str> = p.split(':').collect();
    parts.len() == 3 && !p.contains('/') && (parts[0].is_empty() || parts[0].ends_with(".slice"))
}

/// The one-line reason for refusing the systemd driver: says whether systemd is even there.
pub fn systemd_unsupported() -> String {
    if Path::new("/run/systemd/system").is_dir() {
        "systemd cgroup driver not supported: sangja has no D-Bus client yet; \
         run without --systemd-cgroup to use the cgroupfs driver"
            .to_string()
    } else {
        "systemd cgroup driver not supported: no systemd reachable \
         (/run/systemd/system does not exist)"
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: Option<&str>, own: &str) -> anyhow::Result<CgroupPath> {
        resolve_path(p, "c1", own, Driver::Fs)
    }

    #[test]
    fn absolute_relative_default() {
        assert_eq!(r(Some("/a//b/"), "/x").unwrap().as_str(), "/a/b");
        assert_eq!(
            r(Some("a/b"), "/user.slice/s.scope").unwrap().as_str(),
            "/user.slice/s.scope/a/b"
        );
        assert_eq!(r(Some("a"), "/").unwrap().as_str(), "/a");
        assert_eq!(r(None, "/x").unwrap().as_str(), "/sangja/c1");
        assert_eq!(r(Some(""), "/x").unwrap().as_str(), "/sangja/c1");
    }

    #[test]
    fn refuses_escapes_and_root() {
        for bad in ["/a/../b", "../a", "/", "//", "a/./b"] {
            let e = r(Some(bad), "/x").unwrap_err();
            let e = e.downcast::<Error>().unwrap();
            assert!(
                matches!(e, Error::InvalidConfig { ref field, .. } if field == "linux.cgroupsPath"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn systemd_is_refused_clearly() {
        let e = resolve_path(None, "c1", "/", Driver::Systemd).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("systemd cgroup driver not supported"),
            "{e}"
        );
        let e = r(Some("system.slice:docker:abc"), "/").unwrap_err();
        assert!(e.to_string().contains("slice:prefix:name"), "{e}");
        let e = r(Some(":sangja:abc"), "/").unwrap_err();
        assert!(
            e.to_string()
                .contains("systemd cgroup driver not supported"),
            "{e}"
        );
        // A colon in an ordinary path is just a name.
        assert_eq!(r(Some("/a:b"), "/").unwrap().as_str(), "/a:b");
    }

    #[test]
    fn serde_round_trip() {
        let p = CgroupPath::new("/sangja/x").unwrap();
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(j, "\"/sangja/x\"");
        let back: CgroupPath = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<CgroupPath>("\"/a/../b\"").is_err());
        assert_eq!(p.components().collect::<Vec<_>>(), ["sangja", "x"]);
    }
}
