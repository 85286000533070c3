//! The security plan of one container process: everything checked and converted before the
//! clone, then applied by init in runc's order.

use nix::sys::prctl;
use oci_spec::runtime::Spec;

use super::attrs;
use super::caps::{ensure_effective, CapPlan};
use super::lsm;
use super::rlimits::{self, Rlimit};
use super::seccomp::{self, Compiled, Listener, NotifyHandoff};
use crate::error::Error;
use crate::sys::sched::SchedAttr;

/// What init applies between the start gate and execve. Built in the parent by
/// [`Plan::from_spec`] (pure apart from read-only probes of the kernel and the LSMs), so a bad
/// config fails `create` before any side effect; init gets a copy through the clone.
#[derive(Debug, Clone)]
pub struct Plan {
    rlimits: Vec<Rlimit>,
    oom_score_adj: Option<i32>,
    scheduler: Option<SchedAttr>,
    io_priority: Option<u16>,
    personality: Option<u32>,
    apparmor_profile: Option<String>,
    selinux_label: Option<String>,
    caps: CapPlan,
    no_new_privileges: bool,
    seccomp: Option<Compiled>,
    notes: Vec<String>,
}

impl Plan {
    /// Check and convert the security-related parts of `spec`: capabilities, rlimits,
    /// oomScoreAdj, scheduler, ioPriority, personality, AppArmor/SELinux labels,
    /// noNewPrivileges and the seccomp profile (compiled to BPF here).
    pub fn from_spec(spec: &Spec) -> Result<Plan, Error> {
        let mut notes = Vec::new();
        let process = spec.process().as_ref();
        let linux = spec.linux().as_ref();

        let caps = CapPlan::from_spec(process.and_then(|p| p.capabilities().as_ref()), &mut notes)?;
        let rlimits = rlimits::plan(process.and_then(|p| p.rlimits().as_ref()))?;
        let oom_score_adj = attrs::plan_oom(process.and_then(|p| p.oom_score_adj()))?;
        let scheduler = attrs::plan_scheduler(process.and_then(|p| p.scheduler().as_ref()))?;
        let io_priority = attrs::plan_ioprio(process.and_then(|p| p.io_priority().as_ref()))?;
        let personality = attrs::plan_personality(linux.and_then(|l| l.personality().as_ref()))?;
        let (apparmor_profile, selinux_label) = lsm::plan(
            process.and_then(|p| p.apparmor_profile().as_deref()),
            process.and_then(|p| p.selinux_label().as_deref()),
        )?;
        let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
            Some(s) => {
                let c = seccomp::compile(s)?;
                seccomp::check_host(&c)?;
                notes.extend(c.notes.iter().cloned());
                Some(c)
            }
            None => None,
        };
        Ok(Plan {
            rlimits,
            oom_score_adj,
            scheduler,
            io_priority,
            personality,
            apparmor_profile,
            selinux_label,
            caps,
            no_new_privileges: process.and_then(|p| p.no_new_privileges()).unwrap_or(false),
            seccomp,
            notes,
        })
    }

    /// Debug notes for the log: seccomp syscalls unknown to our table (skipped, as runc does),
    /// rules skipped as redundant, ignored foreign architectures, capabilities this kernel
    /// does not know.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The compiled seccomp profile, if any.
    pub fn seccomp(&self) -> Option<&Compiled> {
        self.seccomp.as_ref()
    }

    /// Where the seccomp agent listens, when the profile uses SCMP_ACT_NOTIFY: the runtime must
    /// connect to it while the host path is reachable and pass a [`NotifyHandoff`] to
    /// [`Plan::apply_after_user_switch`].
    pub fn seccomp_listener(&self) -> Option<&Listener> {
        self.seccomp.as_ref().and_then(|s| s.listener.as_ref())
    }

    /// The capability sets init will give the process.
    pub fn capabilities(&self) -> &CapPlan {
        &self.caps
    }

    /// `process.noNewPrivileges`.
    pub fn no_new_privileges(&self) -> bool {
        self.no_new_privileges
    }

    /// In init, after the start gate, still as root with full capabilities: rlimits,
    /// oom_score_adj, scheduler, I/O priority, personality, the AppArmor/SELinux exec labels,
    /// the bounding-set drop and PR_SET_KEEPCAPS (so a switch to a non-root uid keeps the
    /// permitted set until [`Plan::apply_after_user_switch`] sets it).
    pub fn apply_before_user_switch(&self) -> anyhow::Result<()> {
        rlimits::apply(&self.rlimits)?;
        if let Some(adj) = self.oom_score_adj {
            attrs::apply_oom(adj)?;
        }
        if let Some(s) = &self.scheduler {
            attrs::apply_scheduler(s)?;
        }
        if let Some(p) = self.io_priority {
            attrs::apply_ioprio(p)?;
        }
        if let Some(p) = self.personality {
            attrs::apply_personality(p)?;
        }
        if let Some(p) = &self.apparmor_profile {
            lsm::apply_apparmor(p)?;
        }
        if let Some(l) = &self.selinux_label {
            lsm::apply_selinux(l)?;
        }
        self.caps.apply_bounding()?;
        prctl::set_keepcaps(true).map_err(|e| anyhow::anyhow!("prctl(PR_SET_KEEPCAPS): {e}"))?;
        Ok(())
    }

    /// In init, after setgroups/setresgid/setresuid: capabilities, no_new_privs and seccomp in
    /// runc's order. Without noNewPrivileges the filter is installed first, while
    /// CAP_SYS_ADMIN can still be raised (the kernel requires it then); with it, the filter
    /// comes last so the fewest syscalls run under it. `notify` is required when the profile
    /// uses SCMP_ACT_NOTIFY. Returns warnings (capabilities that could not be granted).
    pub fn apply_after_user_switch(
        &self,
        notify: Option<NotifyHandoff>,
    ) -> anyhow::Result<Vec<String>> {
        prctl::set_keepcaps(false).map_err(|e| anyhow::anyhow!("prctl(PR_SET_KEEPCAPS): {e}"))?;
        let mut notify = notify;
        if let (Some(s), false) = (&self.seccomp, self.no_new_privileges) {
            ensure_effective(::caps::Capability::CAP_SYS_ADMIN).map_err(|e| {
                anyhow::anyhow!(
                    "installing seccomp without noNewPrivileges needs CAP_SYS_ADMIN: {e}"
                )
            })?;
            s.install(notify.take())?;
        }
        let warnings = self.caps.apply_sets()?;
        if self.no_new_privileges {
            prctl::set_no_new_privs()
                .map_err(|e| anyhow::anyhow!("prctl(PR_SET_NO_NEW_PRIVS): {e}"))?;
            if let Some(s) = &self.seccomp {
                s.install(notify.take())?;
            }
        }
        Ok(warnings)
    }
}

/// `create`'s up-front check of everything [`Plan::from_spec`] checks.
pub fn validate(spec: &Spec) -> Result<(), Error> {
    Plan::from_spec(spec).map(|_| ())
}
