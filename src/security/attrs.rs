//! Per-process attributes: `process.oomScoreAdj`, `process.scheduler`, `process.ioPriority`
//! and `linux.personality`. Each is checked when planned and applied in init.

use anyhow::Context;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag as SF, LinuxSchedulerPolicy as SP, Scheduler,
};

use crate::error::Error;
use crate::sys::sched::{self, SchedAttr};

/// Check `oomScoreAdj` (the kernel's range is -1000..=1000).
pub fn plan_oom(adj: Option<i32>) -> Result<Option<i32>, Error> {
    match adj {
        Some(a) if !(-1000..=1000).contains(&a) => Err(Error::invalid(
            "process.oomScoreAdj",
            format!("{a} is out of range -1000..1000"),
        )),
        other => Ok(other),
    }
}

/// Write `/proc/self/oom_score_adj` (lowering it needs CAP_SYS_RESOURCE).
pub fn apply_oom(adj: i32) -> anyhow::Result<()> {
    let path = "/proc/self/oom_score_adj";
    std::fs::write(path, adj.to_string()).with_context(|| format!("writing {adj} to {path}"))
}

/// Build the `sched_attr` for `process.scheduler`, with runc's checks.
pub fn plan_scheduler(s: Option<&Scheduler>) -> Result<Option<SchedAttr>, Error> {
    const F: &str = "process.scheduler";
    let Some(s) = s else { return Ok(None) };
    let mut a = SchedAttr::new();
    a.sched_policy = match s.policy() {
        SP::SchedOther => libc::SCHED_OTHER,
        SP::SchedFifo => libc::SCHED_FIFO,
        SP::SchedRr => libc::SCHED_RR,
        SP::SchedBatch => libc::SCHED_BATCH,
        SP::SchedIdle => libc::SCHED_IDLE,
        SP::SchedDeadline => 6, // SCHED_DEADLINE
        SP::SchedIso => {
            return Err(Error::invalid(
                format!("{F}.policy"),
                "SCHED_ISO is not implemented by Linux",
            ))
        }
    } as u32;
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::invalid(
            format!("{F}.nice"),
            format!("{nice} is out of range -20..19"),
        ));
    }
    a.sched_nice = nice;
    let prio = s.priority().unwrap_or(0);
    let realtime = matches!(s.policy(), SP::SchedFifo | SP::SchedRr);
    if realtime && !(1..=99).contains(&prio) {
        return Err(Error::invalid(
            format!("{F}.priority"),
            format!("{prio} is out of range 1..99 for {}", s.policy()),
        ));
    }
    if !realtime && prio != 0 {
        return Err(Error::invalid(
            format!("{F}.priority"),
            "only valid with SCHED_FIFO or SCHED_RR",
        ));
    }
    a.sched_priority = prio as u32;
    let (rt, dl, pe) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if *s.policy() == SP::SchedDeadline {
        if rt == 0 || dl == 0 || rt > dl || (pe != 0 && dl > pe) {
            return Err(Error::invalid(
                F,
                "SCHED_DEADLINE needs 0 < runtime <= deadline <= period (period 0 means deadline)",
            ));
        }
    } else if rt != 0 || dl != 0 || pe != 0 {
        return Err(Error::invalid(
            F,
            "runtime, deadline and period are only valid with SCHED_DEADLINE",
        ));
    }
    (a.sched_runtime, a.sched_deadline, a.sched_period) = (rt, dl, pe);
    for f in s.flags().iter().flatten() {
        a.sched_flags |= match f {
            SF::SchedResetOnFork => 0x01,
            SF::SchedFlagReclaim => 0x02,
            SF::SchedFlagDLOverrun => 0x04,
            SF::SchedFlagKeepPolicy => 0x08,
            SF::SchedFlagKeepParams => 0x10,
            SF::SchedFlagUtilClampMin => 0x20,
            SF::SchedFlagUtilClampMax => 0x40,
        };
    }
    if a.sched_flags & 0x40 != 0 {
        // No field in the spec gives the clamp; 0 would pin the task to the lowest utilization.
        // 1024 (SCHED_CAPACITY_SCALE) is "no clamp".
        a.sched_util_max = 1024;
    }
    Ok(Some(a))
}

/// `sched_setattr` on the calling thread (the container process).
pub fn apply_scheduler(a: &SchedAttr) -> anyhow::Result<()> {
    sched::sched_setattr(a).context("setting process.scheduler")
}

/// `ioprio` value for `process.ioPriority`: class << 13 | level.
pub fn plan_ioprio(p: Option<&LinuxIOPriority>) -> Result<Option<u16>, Error> {
    let Some(p) = p else { return Ok(None) };
    let class: u16 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(Error::invalid(
            "process.ioPriority.priority",
            format!("{level} is out of range 0..7"),
        ));
    }
    Ok(Some(class << 13 | level as u16))
}

/// `ioprio_set` for the container process; its children inherit it. We use
/// IOPRIO_WHO_PROCESS, not the process group: init may still share sangja's group.
pub fn apply_ioprio(v: u16) -> anyhow::Result<()> {
    sched::ioprio_set_self(v).context("setting process.ioPriority")
}

/// The persona for `linux.personality` (PER_LINUX or PER_LINUX32; no flags are defined).
pub fn plan_personality(p: Option<&LinuxPersonality>) -> Result<Option<u32>, Error> {
    let Some(p) = p else { return Ok(None) };
    if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        return Err(Error::invalid(
            "linux.personality.flags",
            format!("no flags are supported, got {f:?}"),
        ));
    }
    Ok(Some(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    }))
}

/// `personality(2)`: inherited across execve.
pub fn apply_personality(persona: u32) -> anyhow::Result<()> {
    sched::personality(persona).context("setting linux.personality")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(json: &str) -> Result<Option<SchedAttr>, Error> {
        plan_scheduler(Some(&serde_json::from_str(json).unwrap()))
    }

    #[test]
    fn scheduler_checks() {
        let a = sched(r#"{"policy":"SCHED_BATCH","nice":5}"#)
            .unwrap()
            .unwrap();
        assert_eq!((a.sched_policy, a.sched_nice), (3, 5));
        let a = sched(r#"{"policy":"SCHED_FIFO","priority":10,"flags":["SCHED_RESET_ON_FORK"]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.sched_policy, a.sched_priority, a.sched_flags),
            (1, 10, 1)
        );
        assert_eq!(
            sched(r#"{"policy":"SCHED_OTHER","priority":3}"#)
                .unwrap_err()
                .to_string(),
            "invalid config: process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR"
        );
        assert_eq!(
            sched(r#"{"policy":"SCHED_RR"}"#).unwrap_err().to_string(),
            "invalid config: process.scheduler.priority: 0 is out of range 1..99 for SCHED_RR"
        );
        assert!(sched(r#"{"policy":"SCHED_OTHER","nice":20}"#).is_err());
        assert!(sched(r#"{"policy":"SCHED_ISO"}"#).is_err());
        assert!(sched(r#"{"policy":"SCHED_DEADLINE","runtime":10,"deadline":5}"#).is_err());
        let a = sched(
            r#"{"policy":"SCHED_DEADLINE","runtime":1000000,"deadline":2000000,"period":4000000}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.sched_period, 4_000_000);
    }

    #[test]
    fn ioprio_and_personality_and_oom() {
        let p: LinuxIOPriority =
            serde_json::from_str(r#"{"class":"IOPRIO_CLASS_IDLE","priority":4}"#).unwrap();
        assert_eq!(plan_ioprio(Some(&p)).unwrap(), Some(3 << 13 | 4));
        let p: LinuxIOPriority =
            serde_json::from_str(r#"{"class":"IOPRIO_CLASS_BE","priority":8}"#).unwrap();
        assert!(plan_ioprio(Some(&p)).is_err());
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        assert_eq!(plan_personality(Some(&p)).unwrap(), Some(8));
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain":"LINUX","flags":["X"]}"#).unwrap();
        assert!(plan_personality(Some(&p)).is_err());
        assert!(plan_oom(Some(1001)).is_err());
        assert_eq!(plan_oom(Some(-1000)).unwrap(), Some(-1000));
    }
}
