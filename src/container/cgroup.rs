//! The container's cgroup as the lifecycle sees it: planned from the spec before any side
//! effect, created before clone (init is born inside), reopened from state afterwards.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::{
    resolve_path, validate_resources, Cgroup, CgroupPath, DeviceProgram, DeviceRules, Driver,
    Hierarchy,
};
use crate::spec::Spec;
use crate::state::State;

/// Everything needed to create the cgroup, all checked.
pub struct CgroupPlan {
    hierarchy: Hierarchy,
    pub path: CgroupPath,
    resources: LinuxResources,
    rules: DeviceRules,
}

/// Validate `linux.resources` and resolve `linux.cgroupsPath` (no side effect).
pub fn plan(spec: &Spec, id: &str, systemd: bool) -> anyhow::Result<CgroupPlan> {
    let linux = spec.linux().as_ref();
    let resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    validate_resources(&resources)?;
    let rules = DeviceRules::for_container(
        resources.devices().as_deref(),
        linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]),
    )?;
    let hierarchy = hierarchy()?;
    let driver = if systemd { Driver::Systemd } else { Driver::Fs };
    let path = resolve_path(
        linux
            .and_then(|l| l.cgroups_path().as_ref())
            .and_then(|p| p.to_str()),
        id,
        &hierarchy.own,
        driver,
    )?;
    Ok(CgroupPlan {
        hierarchy,
        path,
        resources,
        rules,
    })
}

impl CgroupPlan {
    /// Where cgroup2 is mounted, when that mount shows the whole hierarchy (root `/`).
    pub fn whole_hierarchy_mount(&self) -> Option<&std::path::Path> {
        (self.hierarchy.mount_root == "/").then_some(self.hierarchy.mount.as_path())
    }
}

/// Make the cgroup with its limits, not yet its device program: loading that program (the
/// kernel verifies it, ~0.4 ms) is done while init sets up its root filesystem
/// ([`load_devices`]), and it is attached when init is ready ([`Cgroup::install_devices`]),
/// before anything of the container's runs. As with runc, which applies cgroup settings when
/// init reports ready, the device nodes init makes are made before the rules are in force.
pub fn create(plan: &CgroupPlan) -> anyhow::Result<Cgroup> {
    Cgroup::create(&plan.hierarchy, &plan.path, &plan.resources, None)
}

/// Load the device program of the plan for `cg`.
pub fn load_devices(plan: &CgroupPlan, cg: &Cgroup) -> anyhow::Result<DeviceProgram> {
    cg.load_devices(&plan.rules)
}

/// The cgroup2 hierarchy, read once per process: a command may need it several times (`run`
/// in create, start and delete; `delete` for the status and the teardown), and where it is
/// mounted and which cgroup sangja itself is in do not change while it runs.
fn hierarchy() -> anyhow::Result<Hierarchy> {
    static CACHE: std::sync::OnceLock<Hierarchy> = std::sync::OnceLock::new();
    if let Some(h) = CACHE.get() {
        return Ok(h.clone());
    }
    let h = Hierarchy::discover()?;
    Ok(CACHE.get_or_init(|| h).clone())
}

/// The recorded container's cgroup; `None` when it has none or it is already gone.
pub fn open(state: &State) -> anyhow::Result<Option<Cgroup>> {
    let Some(path) = &state.cgroup_path else {
        return Ok(None);
    };
    let path = CgroupPath::new(path)?;
    let hierarchy = hierarchy()?;
    if !hierarchy.dir_of(path.as_str())?.exists() {
        return Ok(None);
    }
    Cgroup::open(&hierarchy, &path).map(Some)
}
