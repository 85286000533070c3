//! Plan-level tests: validation messages, and applying a plan in forked children (root).

use std::path::Path;

use ::caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use super::testutil::{in_child, status_field};
use super::*;

fn spec(process: Value, linux: Value) -> Spec {
    let mut p = json!({"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": ["sh"]});
    p.as_object_mut()
        .unwrap()
        .extend(process.as_object().unwrap().clone());
    serde_json::from_value(json!({"ociVersion": "1.2.0", "process": p, "linux": linux})).unwrap()
}

fn invalid(process: Value, linux: Value) -> String {
    validate(&spec(process, linux)).unwrap_err().to_string()
}

fn mask(names: &[Capability]) -> String {
    format!("{:016x}", names.iter().map(|c| c.bitmask()).sum::<u64>())
}

/// Apply `plan` in a child as the lead's init would, optionally switching to `uid`/`gid`
/// in between, and return the child's /proc/self/status.
fn apply_in_child(plan: &Plan, user: Option<(u32, u32)>, dir: &Path) -> String {
    let out = dir.join("status");
    // The child may no longer be root when it writes.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let code = in_child(|| {
        plan.apply_before_user_switch().unwrap();
        if let Some((uid, gid)) = user {
            nix::unistd::setgroups(&[]).unwrap();
            let g = Gid::from_raw(gid);
            nix::unistd::setresgid(g, g, g).unwrap();
            let u = Uid::from_raw(uid);
            nix::unistd::setresuid(u, u, u).unwrap();
        }
        plan.apply_after_user_switch(None).unwrap();
        std::fs::write(&out, std::fs::read_to_string("/proc/self/status").unwrap()).unwrap();
        0
    });
    assert_eq!(code, 0, "child failed");
    let status = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    status
}

#[test]
fn validation_errors_name_the_field() {
    assert_eq!(
        invalid(
            json!({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]}),
            json!({})
        ),
        "invalid config: process.rlimits[0]: RLIMIT_NOFILE: soft limit 10 is above hard limit 5"
    );
    assert_eq!(
        invalid(json!({"oomScoreAdj": -1001}), json!({})),
        "invalid config: process.oomScoreAdj: -1001 is out of range -1000..1000"
    );
    assert_eq!(
        invalid(json!({}), json!({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}})),
        "invalid config: linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"
    );
    assert_eq!(
        invalid(
            json!({"capabilities": {"effective": ["CAP_KILL"]}}),
            json!({})
        ),
        "invalid config: process.capabilities.effective: CAP_KILL not in the permitted set"
    );
    assert_eq!(
        invalid(
            json!({"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 9}}),
            json!({})
        ),
        "invalid config: process.ioPriority.priority: 9 is out of range 0..7"
    );
    let ok = spec(
        json!({"noNewPrivileges": true, "capabilities": {"bounding": ["CAP_KILL"]}}),
        json!({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                           "syscalls": [{"names": ["mkdir", "not_a_syscall"], "action": "SCMP_ACT_ERRNO"}]}}),
    );
    let plan = Plan::from_spec(&ok).unwrap();
    assert!(plan.no_new_privileges());
    assert_eq!(plan.notes().len(), 1, "{:?}", plan.notes());
    assert!(plan.seccomp_listener().is_none());
}

#[test]
fn spec_without_process_or_linux_plans_nothing() {
    let s: Spec = serde_json::from_value(json!({"ociVersion": "1.2.0"})).unwrap();
    let plan = Plan::from_spec(&s).unwrap();
    assert!(plan.seccomp().is_none() && !plan.no_new_privileges());
    assert_eq!(plan.capabilities(), &caps::CapPlan::default());
}

const CAPS: &str = r#"{
    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETPCAP"],
    "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "effective": ["CAP_CHOWN", "CAP_KILL"],
    "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
    "ambient": ["CAP_NET_BIND_SERVICE"]
}"#;

fn check_caps(status: &str) {
    use Capability::*;
    assert_eq!(
        status_field(status, "CapBnd"),
        mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_SETPCAP])
    );
    assert_eq!(
        status_field(status, "CapPrm"),
        mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE])
    );
    assert_eq!(status_field(status, "CapEff"), mask(&[CAP_CHOWN, CAP_KILL]));
    assert_eq!(
        status_field(status, "CapInh"),
        mask(&[CAP_KILL, CAP_NET_BIND_SERVICE])
    );
    assert_eq!(
        status_field(status, "CapAmb"),
        mask(&[CAP_NET_BIND_SERVICE])
    );
}

#[test]
fn capabilities_as_root_match_the_config() {
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let plan = Plan::from_spec(&spec(json!({"capabilities": caps}), json!({}))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let status = apply_in_child(&plan, None, dir.path());
    check_caps(&status);
    assert_eq!(status_field(&status, "NoNewPrivs"), "0");
}

#[test]
fn capabilities_as_uid_1000_match_the_config() {
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let plan = Plan::from_spec(&spec(json!({"capabilities": caps}), json!({}))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let status = apply_in_child(&plan, Some((1000, 1000)), dir.path());
    check_caps(&status);
    assert!(status_field(&status, "Uid").starts_with("1000\t1000\t1000"));
}

#[test]
fn missing_capabilities_mean_none_for_uid_1000_and_root() {
    let plan = Plan::from_spec(&spec(json!({}), json!({}))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for user in [None, Some((1000, 1000))] {
        let status = apply_in_child(&plan, user, dir.path());
        for f in ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"] {
            assert_eq!(
                status_field(&status, f),
                "0000000000000000",
                "{f} for {user:?}"
            );
        }
    }
}

#[test]
fn no_new_privileges_is_set() {
    let plan = Plan::from_spec(&spec(json!({"noNewPrivileges": true}), json!({}))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let status = apply_in_child(&plan, Some((1000, 1000)), dir.path());
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
}

#[test]
fn rlimits_oom_scheduler_ioprio_personality_are_applied() {
    // This VM's runtime lacks CAP_SYS_RESOURCE, so only lower hard limits / raise oom adj.
    let plan = Plan::from_spec(&spec(
        json!({
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                        {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192}],
            "oomScoreAdj": 500,
            "scheduler": {"policy": "SCHED_BATCH", "nice": 7},
            "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
        }),
        json!({"personality": {"domain": "LINUX32"}}),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("facts");
    let code = in_child(|| {
        plan.apply_before_user_switch().unwrap();
        plan.apply_after_user_switch(None).unwrap();
        use nix::sys::resource::{getrlimit, Resource};
        let facts = json!({
            "nofile": getrlimit(Resource::RLIMIT_NOFILE).unwrap(),
            "core": getrlimit(Resource::RLIMIT_CORE).unwrap(),
            "msgqueue": getrlimit(Resource::RLIMIT_MSGQUEUE).unwrap(),
            "oom": std::fs::read_to_string("/proc/self/oom_score_adj").unwrap().trim(),
            "sched": crate::sys::sched::sched_getattr().map(|a| (a.sched_policy, a.sched_nice)).unwrap(),
            "ioprio": crate::sys::sched::ioprio_get_self().unwrap(),
            "persona": crate::sys::sched::personality(0xffff_ffff).unwrap(),
            "machine": nix::sys::utsname::uname().unwrap().machine().to_string_lossy(),
        });
        std::fs::write(&out, facts.to_string()).unwrap();
        0
    });
    assert_eq!(code, 0);
    let f: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(f["nofile"], json!([100, 200]));
    assert_eq!(f["core"], json!([0, 0]));
    assert_eq!(f["msgqueue"], json!([4096, 8192]));
    assert_eq!(f["oom"], json!("500"));
    assert_eq!(f["sched"], json!([libc::SCHED_BATCH, 7]));
    assert_eq!(f["ioprio"], json!(3 << 13));
    assert_eq!(f["persona"], json!(8));
    assert_eq!(f["machine"], json!("i686"));
}

#[test]
fn seccomp_without_nnp_for_uid_1000_is_installed_before_the_cap_drop() {
    let plan = Plan::from_spec(&spec(
        json!({"capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"]}}),
        json!({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}}),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let status = apply_in_child(&plan, Some((1000, 1000)), dir.path());
    assert_eq!(status_field(&status, "Seccomp"), "2");
    assert_eq!(status_field(&status, "NoNewPrivs"), "0");
    assert_eq!(
        status_field(&status, "CapEff"),
        mask(&[Capability::CAP_KILL])
    );
    // And it really filters: mkdir → EACCES (13).
    let target = dir.path().join("d");
    let code = in_child(|| {
        plan.apply_before_user_switch().unwrap();
        plan.apply_after_user_switch(None).unwrap();
        super::testutil::errno_of(nix::unistd::mkdir(&target, nix::sys::stat::Mode::S_IRWXU))
    });
    assert_eq!(code, libc::EACCES);
}

#[test]
fn seccomp_with_nnp_is_installed_last_without_any_capability() {
    let plan = Plan::from_spec(&spec(
        json!({"noNewPrivileges": true}),
        json!({"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}}),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let status = apply_in_child(&plan, Some((1000, 1000)), dir.path());
    assert_eq!(status_field(&status, "Seccomp"), "2");
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(status_field(&status, "CapEff"), "0000000000000000");
}

#[test]
fn unavailable_capabilities_are_warnings_not_errors() {
    // Ambient outside inheritable cannot be raised: the spec says warn and go on.
    let plan = Plan::from_spec(&spec(
        json!({"capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]}}),
        json!({}),
    ))
    .unwrap();
    let code = in_child(|| {
        plan.apply_before_user_switch().unwrap();
        let w = plan.apply_after_user_switch(None).unwrap();
        let amb: CapsHashSet = ::caps::read(None, CapSet::Ambient).unwrap();
        (w.len() != 1 || !w[0].contains("ambient") || !amb.is_empty()) as i32
    });
    assert_eq!(code, 0);
}
