//! `process.scheduler`: the combinations sched_setattr(2) accepts.
//!
//! The kernel would refuse the others with a bare EINVAL from inside init; saying which field
//! is wrong before anything starts is kinder.

use oci_spec::runtime::LinuxSchedulerPolicy as Policy;

use super::Spec;
use crate::error::Error;

/// `nice` is within -20..19; `priority` only with SCHED_FIFO or SCHED_RR; `runtime`,
/// `deadline` and `period` only with SCHED_DEADLINE.
pub(super) fn scheduler(spec: &Spec) -> Result<(), Error> {
    let Some(sched) = spec.process().as_ref().and_then(|p| p.scheduler().as_ref()) else {
        return Ok(());
    };
    let policy = *sched.policy();
    if let Some(nice) = sched.nice().filter(|n| !(-20..=19).contains(n)) {
        return Err(Error::invalid(
            "process.scheduler.nice",
            format!("{nice} is outside -20..19"),
        ));
    }
    let realtime = matches!(policy, Policy::SchedFifo | Policy::SchedRr);
    if sched.priority().is_some_and(|p| p != 0) && !realtime {
        return Err(Error::invalid(
            "process.scheduler.priority",
            format!("only SCHED_FIFO and SCHED_RR take a priority, not {policy}"),
        ));
    }
    if policy != Policy::SchedDeadline {
        for (name, value) in [
            ("runtime", sched.runtime()),
            ("deadline", sched.deadline()),
            ("period", sched.period()),
        ] {
            if value.is_some_and(|v| v != 0) {
                return Err(Error::invalid(
                    format!("process.scheduler.{name}"),
                    format!("only SCHED_DEADLINE takes a {name}, not {policy}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_spec;
    use crate::spec::testutil::{assert_invalid, patched};
    use serde_json::json;

    fn with_scheduler(sched: serde_json::Value) -> Spec {
        patched(|v| v["process"]["scheduler"] = sched)
    }

    #[test]
    fn valid_combinations() {
        scheduler(&default_spec(false)).unwrap();
        for ok in [
            json!({"policy": "SCHED_OTHER", "nice": -20}),
            json!({"policy": "SCHED_FIFO", "priority": 50}),
            json!({"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 20, "period": 30}),
        ] {
            scheduler(&with_scheduler(ok.clone())).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn nice_out_of_range() {
        let spec = with_scheduler(json!({"policy": "SCHED_BATCH", "nice": 20}));
        assert_invalid(scheduler(&spec), "process.scheduler.nice", "20 is outside");
    }

    #[test]
    fn priority_needs_realtime_policy() {
        let spec = with_scheduler(json!({"policy": "SCHED_OTHER", "priority": 5}));
        assert_invalid(
            scheduler(&spec),
            "process.scheduler.priority",
            "only SCHED_FIFO and SCHED_RR take a priority, not SCHED_OTHER",
        );
    }

    #[test]
    fn deadline_fields_need_deadline_policy() {
        let spec = with_scheduler(json!({"policy": "SCHED_RR", "period": 100}));
        assert_invalid(
            scheduler(&spec),
            "process.scheduler.period",
            "only SCHED_DEADLINE takes a period",
        );
    }
}
