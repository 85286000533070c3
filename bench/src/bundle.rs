//! The one busybox bundle every runtime runs: a shared read-only rootfs and a config from
//! `runc spec`, edited the same way for everyone. Each container gets its own bundle
//! directory holding only config.json (with its own absolute cgroupsPath); `root.path`
//! points at the shared rootfs.

use std::path::Path;

use serde_json::{json, Value};

use crate::proc;

/// What a scenario changes in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `runc spec`'s namespaces: pid, network, ipc, uts, mount.
    Default,
    /// The same without the network namespace.
    NoNet,
    /// Default plus memory and pids limits (cgroup work at create).
    Limits,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Default, Variant::NoNet, Variant::Limits];
    pub fn key(self) -> &'static str {
        match self {
            Variant::Default => "netns",
            Variant::NoNet => "no-netns",
            Variant::Limits => "limits",
        }
    }
    pub fn short(self) -> &'static str {
        match self {
            Variant::Default => "n",
            Variant::NoNet => "x",
            Variant::Limits => "l",
        }
    }
}

pub const MEMORY_LIMIT: u64 = 256 << 20;
pub const PIDS_LIMIT: u64 = 128;

pub struct Bundles {
    base: Value,
    pub spec_source: String,
}

impl Bundles {
    /// Build the rootfs with the repo's scripts/make-rootfs.sh and take the base config from
    /// `runc spec` (or `sangja spec` when runc is missing, said in the report).
    pub fn prepare(
        work: &Path,
        repo: &Path,
        rootfs_from: Option<&Path>,
        runc: Option<&Path>,
        sangja: &Path,
    ) -> Result<Bundles, String> {
        let rootfs = work.join("rootfs");
        match rootfs_from {
            Some(src) => {
                proc::output(&["cp", "-a", path_str(src)?, path_str(&rootfs)?])?;
            }
            None => {
                let script = repo.join("scripts/make-rootfs.sh");
                proc::output(&["bash", path_str(&script)?, path_str(&rootfs)?])?;
            }
        }
        let spec_dir = work.join("spec");
        let _ = std::fs::remove_dir_all(&spec_dir);
        std::fs::create_dir_all(&spec_dir).map_err(|e| format!("{}: {e}", spec_dir.display()))?;
        let spec_source = match runc {
            Some(r) => {
                proc::output(&[path_str(r)?, "spec", "--bundle", path_str(&spec_dir)?])?;
                "runc spec".to_string()
            }
            None => {
                proc::output(&[path_str(sangja)?, "spec", "-b", path_str(&spec_dir)?])?;
                "sangja spec (runc missing)".to_string()
            }
        };
        let text = std::fs::read_to_string(spec_dir.join("config.json"))
            .map_err(|e| format!("spec config.json: {e}"))?;
        let mut base: Value =
            serde_json::from_str(&text).map_err(|e| format!("spec config.json: {e}"))?;
        base["process"]["terminal"] = json!(false);
        base["process"]["args"] = json!(["/bin/true"]);
        base["root"] = json!({"path": path_str(&rootfs)?, "readonly": true});
        Ok(Bundles { base, spec_source })
    }

    /// The config for one container.
    pub fn config(&self, variant: Variant, args: &[&str], id: &str) -> Value {
        let mut c = self.base.clone();
        c["process"]["args"] = json!(args);
        c["linux"]["cgroupsPath"] = json!(format!("/sangja-bench/{id}"));
        match variant {
            Variant::Default => {}
            Variant::NoNet => {
                if let Some(ns) = c["linux"]["namespaces"].as_array_mut() {
                    ns.retain(|n| n["type"] != "network");
                }
            }
            Variant::Limits => {
                c["linux"]["resources"]["memory"] = json!({"limit": MEMORY_LIMIT});
                c["linux"]["resources"]["pids"] = json!({"limit": PIDS_LIMIT});
            }
        }
        c
    }

    /// Write the config for `id` into `dir` (created if needed); returns `dir`.
    pub fn write(
        &self,
        dir: &Path,
        variant: Variant,
        args: &[&str],
        id: &str,
    ) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let c = self.config(variant, args, id);
        let text = serde_json::to_string_pretty(&c).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("config.json"), text).map_err(|e| format!("{}: {e}", dir.display()))
    }

    pub fn describe(&self) -> String {
        let ns: Vec<String> = self.base["linux"]["namespaces"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n["type"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        format!(
            "config from `{}`, edited: process.terminal=false, process.args=[\"/bin/true\"] (or [\"/bin/sleep\",\"1000\"] where a running container is needed), \
             root.path = one shared busybox-static rootfs (read-only), linux.cgroupsPath=\"/sangja-bench/<id>\" per container; namespaces: {}",
            self.spec_source,
            ns.join(", ")
        )
    }
}

pub fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("non-UTF-8 path {}", p.display()))
}
