//! Checks on the raw config JSON, before it becomes an `oci_spec::runtime::Spec`.
//!
//! oci-spec turns an unknown capability, rlimit type, seccomp action or operator into a bare
//! serde error ("unknown variant ..."), without the field it came from. Running [`precheck`]
//! first gives `invalid config: process.capabilities.bounding[3]: unknown capability
//! "CAP_FOO"` instead. It also rewrites the two scheduler flag names that oci-spec 0.10
//! spells differently from the runtime spec, so configs using the spec's names parse.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use oci_spec::runtime::{
    Arch, Capability, IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
    PosixRlimitType,
};

/// Runtime-spec scheduler flag names → the names oci-spec 0.10 deserializes.
const SCHED_FLAG_ALIASES: &[(&str, &str)] = &[
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

fn one<T: DeserializeOwned>(v: &Value, field: &str, what: &str) -> Result<(), Error> {
    let Some(s) = v.as_str() else {
        return Err(Error::invalid(
            field,
            format!("{what} must be a string, got {v}"),
        ));
    };
    serde_json::from_value::<T>(Value::String(s.to_string()))
        .map(|_| ())
        .map_err(|_| Error::invalid(field, format!("unknown {what} {s:?}")))
}

fn list<T: DeserializeOwned>(v: Option<&Value>, field: &str, what: &str) -> Result<(), Error> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Some(items) = v.as_array() else {
        return Err(Error::invalid(field, "must be an array"));
    };
    for (i, item) in items.iter().enumerate() {
        one::<T>(item, &format!("{field}[{i}]"), what)?;
    }
    Ok(())
}

fn field<T: DeserializeOwned>(v: Option<&Value>, field: &str, what: &str) -> Result<(), Error> {
    match v.filter(|v| !v.is_null()) {
        Some(v) => one::<T>(v, field, what),
        None => Ok(()),
    }
}

/// Check every name-valued field owned by `security` and normalize the scheduler flag
/// spellings. Call on the parsed JSON before deserializing it into a `Spec`.
pub fn precheck(config: &mut Value) -> Result<(), Error> {
    if let Some(flags) = config
        .pointer_mut("/process/scheduler/flags")
        .and_then(Value::as_array_mut)
    {
        for f in flags.iter_mut() {
            if let Some((_, to)) = SCHED_FLAG_ALIASES.iter().find(|(from, _)| f == from) {
                *f = Value::String((*to).to_string());
            }
        }
    }
    let c = &*config;
    for set in [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ] {
        list::<Capability>(
            c.pointer(&format!("/process/capabilities/{set}")),
            &format!("process.capabilities.{set}"),
            "capability",
        )?;
    }
    if let Some(rl) = c.pointer("/process/rlimits").and_then(Value::as_array) {
        for (i, r) in rl.iter().enumerate() {
            field::<PosixRlimitType>(
                r.get("type"),
                &format!("process.rlimits[{i}].type"),
                "rlimit type",
            )?;
        }
    }
    field::<LinuxSchedulerPolicy>(
        c.pointer("/process/scheduler/policy"),
        "process.scheduler.policy",
        "scheduler policy",
    )?;
    list::<LinuxSchedulerFlag>(
        c.pointer("/process/scheduler/flags"),
        "process.scheduler.flags",
        "scheduler flag",
    )?;
    field::<IOPriorityClass>(
        c.pointer("/process/ioPriority/class"),
        "process.ioPriority.class",
        "I/O priority class",
    )?;
    field::<LinuxPersonalityDomain>(
        c.pointer("/linux/personality/domain"),
        "linux.personality.domain",
        "personality domain",
    )?;
    let Some(s) = c.pointer("/linux/seccomp").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    field::<LinuxSeccompAction>(
        s.get("defaultAction"),
        "linux.seccomp.defaultAction",
        "seccomp action",
    )?;
    list::<Arch>(
        s.get("architectures"),
        "linux.seccomp.architectures",
        "seccomp architecture",
    )?;
    list::<LinuxSeccompFilterFlag>(s.get("flags"), "linux.seccomp.flags", "seccomp flag")?;
    for (i, sc) in s
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = format!("linux.seccomp.syscalls[{i}]");
        if sc.get("names").is_none() {
            let why = if sc.get("name").is_some() {
                "required (the pre-1.0 \"name\" field is not supported)"
            } else {
                "required"
            };
            return Err(Error::invalid(format!("{f}.names"), why));
        }
        field::<LinuxSeccompAction>(sc.get("action"), &format!("{f}.action"), "seccomp action")?;
        for (j, a) in sc
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            field::<LinuxSeccompOperator>(
                a.get("op"),
                &format!("{f}.args[{j}].op"),
                "seccomp operator",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(mut v: Value) -> String {
        precheck(&mut v).unwrap_err().to_string()
    }

    #[test]
    fn unknown_names_name_their_field() {
        assert_eq!(
            err(
                json!({"process": {"capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_AUDIT_WRITE", "CAP_FOO"]}}})
            ),
            r#"invalid config: process.capabilities.bounding[3]: unknown capability "CAP_FOO""#
        );
        assert_eq!(
            err(json!({"process": {"rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}})),
            r#"invalid config: process.rlimits[0].type: unknown rlimit type "RLIMIT_BOGUS""#
        );
        assert_eq!(
            err(json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_MAYBE"}}})),
            r#"invalid config: linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_MAYBE""#
        );
        assert_eq!(
            err(
                json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["dup3"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_ALMOST"}]}]}}})
            ),
            r#"invalid config: linux.seccomp.syscalls[1].args[0].op: unknown seccomp operator "SCMP_CMP_ALMOST""#
        );
        assert_eq!(
            err(
                json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}}})
            ),
            r#"invalid config: linux.seccomp.architectures[0]: unknown seccomp architecture "SCMP_ARCH_Z80""#
        );
        assert_eq!(
            err(
                json!({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]}}})
            ),
            r#"invalid config: linux.seccomp.syscalls[0].names: required (the pre-1.0 "name" field is not supported)"#
        );
    }

    #[test]
    fn valid_names_pass_and_scheduler_flags_are_normalized() {
        let mut v = json!({
            "process": {
                "capabilities": {"bounding": ["CAP_KILL"], "ambient": []},
                "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}],
                "scheduler": {"policy": "SCHED_FIFO", "priority": 1,
                              "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]},
                "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 0}
            },
            "linux": {"personality": {"domain": "LINUX32"},
                      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                                  "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                                  "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL_PROCESS"}]}}
        });
        precheck(&mut v).unwrap();
        let s: oci_spec::runtime::Scheduler =
            serde_json::from_value(v.pointer("/process/scheduler").unwrap().clone()).unwrap();
        assert_eq!(s.flags().as_ref().unwrap().len(), 3);
    }
}
