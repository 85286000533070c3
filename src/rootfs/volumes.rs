//! `sangja run -v|--volume` and `--tmpfs`, and named volumes (`sangja volume ls|rm`): the pure
//! logic; the CLI and container layers call it. The flags only add `mounts` to the in-memory
//! config of that run; config.json is never rewritten.
//!
//! - `-v SRC:DST[:OPTS]`: SRC starting with `/` or `.` (or holding a `/`) is a host path, which
//!   must exist (a relative one is taken from the caller's cwd); otherwise SRC is a volume NAME
//!   (`[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 128 characters) whose directory
//!   `<state root>/_volumes/NAME/_data` is created on first use and kept after the container is
//!   deleted. OPTS: `ro`, `rw`, `nosuid`, `nodev`, `noexec` and the propagation words, joined by
//!   commas. The mount is an `rbind` (`rprivate` unless a propagation word is given); `ro` adds
//!   `rro` so submounts of a host path are read-only too.
//! - `--tmpfs DST[:OPTS]`: a tmpfs with `nosuid,nodev,noexec` (as docker) and then OPTS: mount
//!   flag words and `size=`, `mode=`, `uid=`, `gid=`, `nr_inodes=`, `nr_blocks=`.
//! - `_volumes` cannot collide with a container directory: container ids start with a letter or
//!   digit. `list` must skip it.
//! - Which volumes a container uses is recorded in the annotation [`VOLUMES_ANNOTATION`]
//!   (comma-separated names), which state.json keeps; `volume rm` asks the caller, through
//!   `in_use`, whether a live container has the name there ([`volumes_in_annotations`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::{Mount, Spec};

use super::flags::{propagation, MountOptions};
use super::mountinfo;
use crate::error::Error;

/// Directory under the state root that holds the named volumes.
pub const VOLUMES_DIR: &str = "_volumes";
/// Annotation listing the named volumes a container was started with (comma-separated).
pub const VOLUMES_ANNOTATION: &str = "org.sangja.volumes";
/// Longest volume name.
const MAX_NAME: usize = 128;

/// Where a `--volume` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// An absolute host path.
    Host(PathBuf),
    /// A named volume.
    Named(String),
}

/// One parsed `--volume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeArg {
    pub source: VolumeSource,
    pub destination: PathBuf,
    /// Mount option words given after the second `:`.
    pub options: Vec<String>,
}

impl VolumeArg {
    pub fn readonly(&self) -> bool {
        self.options.iter().rev().find(|o| *o == "ro" || *o == "rw") == Some(&"ro".to_string())
    }
}

/// A named volume's name is `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 128 characters.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `<state root>/_volumes`.
pub fn volumes_root(state_root: &Path) -> PathBuf {
    state_root.join(VOLUMES_DIR)
}

/// `<state root>/_volumes/NAME/_data`, the directory a named volume mounts.
pub fn volume_data_dir(state_root: &Path, name: &str) -> PathBuf {
    volumes_root(state_root).join(name).join("_data")
}

fn bad(flag: &str, arg: &str, reason: impl std::fmt::Display) -> Error {
    Error::invalid(flag, format!("{arg:?}: {reason}"))
}

/// Parse `-v SRC:DST[:OPTS]`; a relative host SRC is taken from `cwd`.
pub fn parse_volume(arg: &str, cwd: &Path) -> Result<VolumeArg, Error> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (src, dst, opts) = match parts[..] {
        [s, d] => (s, d, ""),
        [s, d, o] => (s, d, o),
        _ => return Err(bad("--volume", arg, "want SRC:DST[:OPTIONS]")),
    };
    if src.is_empty() {
        return Err(bad("--volume", arg, "the source is empty"));
    }
    let destination = check_destination("--volume", arg, dst)?;
    let source = if src.starts_with('/') || src.starts_with('.') || src.contains('/') {
        let p = cwd.join(src);
        let p = p
            .canonicalize()
            .map_err(|e| bad("--volume", arg, format!("host path {}: {e}", p.display())))?;
        VolumeSource::Host(p)
    } else if valid_volume_name(src) {
        VolumeSource::Named(src.to_string())
    } else {
        return Err(bad(
            "--volume",
            arg,
            format!(
                "{src:?} is neither a path (starting with / or .) nor a volume name \
                 ([A-Za-z0-9][A-Za-z0-9_.-]*)"
            ),
        ));
    };
    let mut options = Vec::new();
    for w in opts.split(',').filter(|w| !w.is_empty()) {
        let known =
            matches!(w, "ro" | "rw" | "nosuid" | "nodev" | "noexec") || propagation(w).is_some();
        if !known {
            return Err(bad(
                "--volume",
                arg,
                format!(
                    "unknown option {w:?} (want ro, rw, nosuid, nodev, noexec or a propagation)"
                ),
            ));
        }
        options.push(w.to_string());
    }
    Ok(VolumeArg {
        source,
        destination,
        options,
    })
}

fn check_destination(flag: &str, arg: &str, dst: &str) -> Result<PathBuf, Error> {
    let p = PathBuf::from(dst);
    if !p.is_absolute() {
        return Err(bad(
            flag,
            arg,
            format!("the destination {dst:?} is not an absolute path"),
        ));
    }
    if p.components()
        .all(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(bad(flag, arg, "the destination cannot be /"));
    }
    Ok(p)
}

/// Parse `--tmpfs DST[:OPTS]` into a tmpfs mount (`nosuid,nodev,noexec` first, then OPTS).
pub fn parse_tmpfs(arg: &str) -> Result<Mount, Error> {
    let (dst, opts) = arg.split_once(':').unwrap_or((arg, ""));
    let destination = check_destination("--tmpfs", arg, dst)?;
    let mut options: Vec<String> = ["nosuid", "nodev", "noexec"].map(String::from).to_vec();
    for w in opts.split(',').filter(|w| !w.is_empty()) {
        let parsed = MountOptions::parse(&[w]);
        if parsed.data.is_empty() {
            if parsed.is_bind() || parsed.idmap.is_some() || !parsed.rec.is_empty() {
                return Err(bad(
                    "--tmpfs",
                    arg,
                    format!("{w:?} does not apply to a tmpfs"),
                ));
            }
        } else {
            check_tmpfs_data(w).map_err(|r| bad("--tmpfs", arg, r))?;
        }
        options.push(w.to_string());
    }
    let mut m = Mount::default();
    m.set_destination(destination);
    m.set_typ(Some("tmpfs".into()));
    m.set_source(Some(PathBuf::from("tmpfs")));
    m.set_options(Some(options));
    Ok(m)
}

/// One `key=value` tmpfs option, checked so a typo fails here and not in the kernel.
fn check_tmpfs_data(w: &str) -> Result<(), String> {
    let Some((key, value)) = w.split_once('=') else {
        return Err(format!("unknown option {w:?}"));
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let sized = |s: &str| {
        let n = s.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
        digits(n) && s.len() - n.len() <= 1
    };
    let ok = match key {
        "size" => sized(value) || value.strip_suffix('%').is_some_and(digits),
        "nr_inodes" | "nr_blocks" => sized(value),
        "mode" => u32::from_str_radix(value, 8).is_ok_and(|m| m <= 0o7777) && digits(value),
        "uid" | "gid" => value.parse::<u32>().is_ok(),
        _ => return Err(format!("unknown option {key:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("bad value {value:?} for {key}"))
    }
}

/// Create a named volume's data directory if missing; returns it.
pub fn ensure_volume(state_root: &Path, name: &str) -> anyhow::Result<PathBuf> {
    if !valid_volume_name(name) {
        bail!("invalid volume name {name:?}");
    }
    let base = volumes_root(state_root);
    std::fs::create_dir_all(&base).with_context(|| format!("create {}", base.display()))?;
    let data = volume_data_dir(state_root, name);
    std::fs::create_dir_all(&data).with_context(|| format!("create volume {name}"))?;
    Ok(data)
}

/// The bind mount for one `--volume`, creating a named volume on first use.
pub fn volume_mount(state_root: &Path, v: &VolumeArg) -> anyhow::Result<Mount> {
    let source = match &v.source {
        VolumeSource::Host(p) => p.clone(),
        VolumeSource::Named(n) => ensure_volume(state_root, n)?,
    };
    let mut options = vec!["rbind".to_string()];
    if !v.options.iter().any(|o| propagation(o).is_some()) {
        options.push("rprivate".into());
    }
    options.extend(v.options.iter().cloned());
    if v.readonly() {
        options.push("rro".into());
    }
    let mut m = Mount::default();
    m.set_destination(v.destination.clone());
    m.set_typ(Some("bind".into()));
    m.set_source(Some(source));
    m.set_options(Some(options));
    Ok(m)
}

/// Apply `sangja run`'s `--volume` and `--tmpfs` values to the in-memory `spec`: parse them all
/// first (nothing is created when one is bad), then create named volumes, append the mounts in
/// flag order (volumes, then tmpfs) and record the named volumes in [`VOLUMES_ANNOTATION`].
/// Returns the names of the named volumes used.
pub fn apply_run_flags(
    spec: &mut Spec,
    state_root: &Path,
    cwd: &Path,
    volumes: &[String],
    tmpfs: &[String],
) -> anyhow::Result<Vec<String>> {
    let vols: Vec<VolumeArg> = volumes
        .iter()
        .map(|v| parse_volume(v, cwd))
        .collect::<Result<_, _>>()?;
    let tmps: Vec<Mount> = tmpfs
        .iter()
        .map(|t| parse_tmpfs(t))
        .collect::<Result<_, _>>()?;
    let mut seen: Vec<&Path> = Vec::new();
    let dests = vols
        .iter()
        .map(|v| ("--volume", v.destination.as_path()))
        .chain(tmps.iter().map(|t| ("--tmpfs", t.destination().as_path())));
    for (flag, d) in dests {
        if seen.contains(&d) {
            return Err(Error::invalid(flag, format!("{} is given twice", d.display())).into());
        }
        seen.push(d);
    }
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let mut names = Vec::new();
    for v in &vols {
        mounts.push(volume_mount(state_root, v)?);
        if let VolumeSource::Named(n) = &v.source {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    mounts.extend(tmps);
    spec.set_mounts(Some(mounts));
    if !names.is_empty() {
        let mut ann = spec.annotations().clone().unwrap_or_default();
        ann.insert(VOLUMES_ANNOTATION.to_string(), names.join(","));
        spec.set_annotations(Some(ann));
    }
    Ok(names)
}

/// The named volumes recorded in a container's annotations.
pub fn volumes_in_annotations(annotations: Option<&HashMap<String, String>>) -> Vec<String> {
    annotations
        .and_then(|a| a.get(VOLUMES_ANNOTATION))
        .map(|v| {
            v.split(',')
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The named volumes (sorted): directories under `_volumes` with a valid name and a `_data`.
pub fn volumes(state_root: &Path) -> anyhow::Result<Vec<String>> {
    let base = volumes_root(state_root);
    let entries = match std::fs::read_dir(&base) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read {}", base.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| valid_volume_name(n) && base.join(n).join("_data").is_dir())
        .collect();
    names.sort();
    Ok(names)
}

/// Remove named volume `name` and its data. Refused when `in_use(name)` says a live container
/// uses it, or when something is mounted under it on this host. The directory is first renamed
/// away (atomic), so a concurrent `run` either sees the whole volume or creates a new one.
pub fn remove_volume(
    state_root: &Path,
    name: &str,
    in_use: impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    if !valid_volume_name(name) {
        return Err(Error::invalid("volume rm", format!("invalid volume name {name:?}")).into());
    }
    let dir = volumes_root(state_root).join(name);
    if !dir.join("_data").is_dir() {
        bail!("volume {name} does not exist");
    }
    if in_use(name) {
        bail!("volume {name} is in use by a container; stop and delete it first");
    }
    let table = mountinfo::read_self()?;
    if let Some(m) = table.iter().find(|m| m.mount_point.starts_with(&dir)) {
        bail!(
            "volume {name}: {} is a mount point; unmount it first",
            m.mount_point.display()
        );
    }
    let doomed = volumes_root(state_root).join(format!(".removing-{name}-{}", std::process::id()));
    std::fs::rename(&dir, &doomed).with_context(|| format!("remove volume {name}"))?;
    std::fs::remove_dir_all(&doomed).with_context(|| format!("remove volume {name} data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cwd() -> PathBuf {
        PathBuf::from("/")
    }

    #[test]
    fn volume_names() {
        for ok in ["a", "data", "my_vol.1-x", "0", "A9"] {
            assert!(valid_volume_name(ok), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in [
            "",
            "_x",
            ".x",
            "-x",
            "a/b",
            "a b",
            "a:b",
            "..",
            long.as_str(),
        ] {
            assert!(!valid_volume_name(bad), "{bad}");
        }
    }

    #[test]
    fn parses_volumes() {
        let t = tempfile::tempdir().unwrap();
        let host = t.path().canonicalize().unwrap();
        let v = parse_volume(&format!("{}:/data:ro", host.display()), &cwd()).unwrap();
        assert_eq!(v.source, VolumeSource::Host(host.clone()));
        assert_eq!(v.destination, Path::new("/data"));
        assert!(v.readonly());
        let v = parse_volume("cache:/var/cache", &cwd()).unwrap();
        assert_eq!(v.source, VolumeSource::Named("cache".into()));
        assert!(!v.readonly());
        let v = parse_volume("cache:/c:ro,rw,rslave", &cwd()).unwrap();
        assert!(!v.readonly());
        assert_eq!(v.options, ["ro", "rw", "rslave"]);
        std::fs::create_dir(host.join("sub")).unwrap();
        let v = parse_volume("./sub:/s", &host).unwrap();
        assert_eq!(v.source, VolumeSource::Host(host.join("sub")));
    }

    #[test]
    fn volume_errors_name_the_flag_and_value() {
        let cases = [
            ("nocolon", "want SRC:DST[:OPTIONS]"),
            ("a:b:c:d", "want SRC:DST[:OPTIONS]"),
            (":/x", "the source is empty"),
            ("vol:relative", "is not an absolute path"),
            ("vol:/", "cannot be /"),
            (
                "/nonexistent-sangja-path:/x",
                "host path /nonexistent-sangja-path",
            ),
            ("_bad:/x", "neither a path"),
            ("vol:/x:rx", "unknown option \"rx\""),
        ];
        for (arg, want) in cases {
            let e = parse_volume(arg, &cwd()).unwrap_err().to_string();
            let prefix = format!("invalid config: --volume: {arg:?}: ");
            assert!(e.starts_with(&prefix) && e.contains(want), "{arg}: {e}");
        }
    }

    #[test]
    fn parses_tmpfs() {
        let m = parse_tmpfs("/run").unwrap();
        assert_eq!(m.destination(), Path::new("/run"));
        assert_eq!(m.typ().as_deref(), Some("tmpfs"));
        let o = m.options().clone().unwrap();
        assert_eq!(o, ["nosuid", "nodev", "noexec"]);
        let m = parse_tmpfs("/t:size=64m,mode=1777,exec,uid=1000,nr_inodes=1k").unwrap();
        let o = m.options().clone().unwrap();
        assert_eq!(
            &o[3..],
            ["size=64m", "mode=1777", "exec", "uid=1000", "nr_inodes=1k"]
        );
        assert!(parse_tmpfs("/t:size=50%").is_ok());
        let flags = MountOptions::parse(&o);
        assert!(!flags.mount_attrs().contains(nix::mount::MsFlags::MS_NOEXEC));
        for (arg, want) in [
            ("t", "not an absolute path"),
            ("/t:size=lots", "bad value \"lots\" for size"),
            ("/t:mode=999", "bad value \"999\" for mode"),
            ("/t:mode=77777", "bad value"),
            ("/t:uid=-1", "bad value"),
            ("/t:colour=blue", "unknown option \"colour\""),
            ("/t:bogus", "unknown option \"bogus\""),
            ("/t:rbind", "does not apply to a tmpfs"),
        ] {
            let e = parse_tmpfs(arg).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid config: --tmpfs: {arg:?}: ")) && e.contains(want),
                "{arg}: {e}"
            );
        }
    }

    #[test]
    fn run_flags_add_mounts_and_volumes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("state");
        let host = t.path().join("host");
        std::fs::create_dir_all(&host).unwrap();
        let mut spec: Spec = serde_json::from_str(
            r#"{"mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}"#,
        )
        .unwrap();
        let names = apply_run_flags(
            &mut spec,
            &root,
            &cwd(),
            &[
                "data:/data".into(),
                format!("{}:/host:ro", host.display()),
                "data:/again:ro".into(),
            ],
            &["/scratch:size=1m".into()],
        )
        .unwrap();
        assert_eq!(names, ["data"]);
        let mounts = spec.mounts().clone().unwrap();
        let summary: Vec<(String, String, Vec<String>)> = mounts
            .iter()
            .map(|m| {
                (
                    m.destination().display().to_string(),
                    m.source().as_ref().unwrap().display().to_string(),
                    m.options().clone().unwrap_or_default(),
                )
            })
            .collect();
        let data = volume_data_dir(&root, "data").display().to_string();
        let host = host.canonicalize().unwrap().display().to_string();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(summary[0].0, "/proc");
        assert_eq!(
            summary[1],
            ("/data".into(), data.clone(), s(&["rbind", "rprivate"]))
        );
        assert_eq!(
            summary[2],
            ("/host".into(), host, s(&["rbind", "rprivate", "ro", "rro"]))
        );
        assert_eq!(
            summary[3],
            (
                "/again".into(),
                data.clone(),
                s(&["rbind", "rprivate", "ro", "rro"])
            )
        );
        assert_eq!(summary[4].0, "/scratch");
        assert!(Path::new(&data).is_dir());
        let ann = spec.annotations().clone();
        assert_eq!(volumes_in_annotations(ann.as_ref()), ["data"]);
        assert_eq!(volumes(&root).unwrap(), ["data"]);
    }

    #[test]
    fn bad_flags_change_nothing() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("state");
        let mut spec = Spec::default();
        let before = spec.mounts().clone();
        let e = apply_run_flags(
            &mut spec,
            &root,
            &cwd(),
            &["v1:/a".into(), "v2:rel".into()],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("--volume"), "{e}");
        assert!(!volumes_root(&root).exists(), "no volume was created");
        assert_eq!(spec.mounts(), &before);
        let e = apply_run_flags(&mut spec, &root, &cwd(), &["v1:/a".into()], &["/a".into()])
            .unwrap_err();
        assert_eq!(e.to_string(), "invalid config: --tmpfs: /a is given twice");
    }

    #[test]
    fn list_and_remove() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        assert!(volumes(root).unwrap().is_empty());
        for n in ["zeta", "alpha", "mid"] {
            let d = ensure_volume(root, n).unwrap();
            std::fs::write(d.join("f"), n).unwrap();
        }
        std::fs::create_dir_all(volumes_root(root).join("_junk")).unwrap();
        std::fs::create_dir_all(volumes_root(root).join("nodata")).unwrap();
        assert_eq!(volumes(root).unwrap(), ["alpha", "mid", "zeta"]);
        // Data survives a second ensure.
        let d = ensure_volume(root, "mid").unwrap();
        assert_eq!(std::fs::read_to_string(d.join("f")).unwrap(), "mid");

        let e = remove_volume(root, "mid", |n| n == "mid")
            .unwrap_err()
            .to_string();
        assert!(e.contains("in use"), "{e}");
        assert!(volume_data_dir(root, "mid").is_dir());
        remove_volume(root, "mid", |_| false).unwrap();
        assert_eq!(volumes(root).unwrap(), ["alpha", "zeta"]);
        let e = remove_volume(root, "mid", |_| false)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "volume mid does not exist");
        let e = remove_volume(root, "../x", |_| false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid volume name"), "{e}");
    }
}
