//! The config that `sangja spec` writes: runc's `runc spec` example, with `terminal: false`.
//!
//! Every value is set here rather than taken from oci-spec's `Default` impls, which differ
//! from runc (hostname "youki", inheritable and ambient capabilities) and may change between
//! oci-spec releases; a test pins the whole output.

use std::path::PathBuf;

use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxCapabilities, LinuxDeviceCgroup, LinuxIdMapping,
    LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, LinuxResources, Mount,
    PosixRlimitBuilder, PosixRlimitType, Process, Root, User, VERSION,
};

use super::Spec;

/// These oci-spec builders have no validation; `build` only fails for a missing field, and
/// every field has a default.
const INFALLIBLE: &str = "oci-spec builder without validation failed";

/// The default config; `rootless` gives the variant of `runc spec --rootless`.
pub fn default_spec(rootless: bool) -> Spec {
    let mut spec = Spec::default();
    spec.set_version(VERSION.to_string());
    spec.set_root(Some(root()));
    spec.set_process(Some(process()));
    spec.set_hostname(Some("sangja".to_string()));
    spec.set_domainname(None);
    spec.set_mounts(Some(mounts()));
    spec.set_hooks(None);
    spec.set_annotations(None);
    spec.set_linux(Some(linux()));
    if rootless {
        make_rootless(
            &mut spec,
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
    }
    spec
}

fn root() -> Root {
    let mut root = Root::default();
    root.set_path(PathBuf::from("rootfs"));
    root.set_readonly(Some(true));
    root
}

fn process() -> Process {
    let mut process = Process::default();
    // runc writes `terminal: true`; we write false so that `sangja spec && sangja run -b . id`
    // works from scripts and CI, where there is no tty and no console socket.
    process.set_terminal(Some(false));
    process.set_console_size(None);
    process.set_user(User::default()); // uid 0, gid 0
    process.set_args(Some(vec!["sh".to_string()]));
    process.set_command_line(None);
    process.set_env(Some(vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "TERM=xterm".to_string(),
    ]));
    process.set_cwd(PathBuf::from("/"));
    process.set_capabilities(Some(capabilities()));
    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .hard(1024u64)
        .soft(1024u64)
        .build()
        .expect(INFALLIBLE);
    process.set_rlimits(Some(vec![nofile]));
    process.set_no_new_privileges(Some(true));
    process.set_apparmor_profile(None);
    process.set_oom_score_adj(None);
    process.set_selinux_label(None);
    process.set_io_priority(None);
    process.set_scheduler(None);
    process.set_exec_cpu_affinity(None);
    process
}

/// runc's default set in bounding, effective and permitted; like runc since 1.1 (after
/// CVE-2022-29162), nothing inheritable and nothing ambient.
fn capabilities() -> LinuxCapabilities {
    let set: Capabilities = [
        Capability::AuditWrite,
        Capability::Kill,
        Capability::NetBindService,
    ]
    .into_iter()
    .collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()));
    caps.set_effective(Some(set.clone()));
    caps.set_permitted(Some(set));
    caps.set_inheritable(None);
    caps.set_ambient(None);
    caps
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(if options.is_empty() {
        None
    } else {
        Some(options.iter().map(|o| o.to_string()).collect())
    });
    m
}

fn mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ]
}

fn namespace(typ: LinuxNamespaceType) -> LinuxNamespace {
    let mut ns = LinuxNamespace::default();
    ns.set_typ(typ);
    ns.set_path(None);
    ns
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn linux() -> Linux {
    use LinuxNamespaceType::*;
    let mut linux = Linux::default();
    linux.set_uid_mappings(None);
    linux.set_gid_mappings(None);
    linux.set_sysctl(None);
    // Deny every device by default; the runtime adds the default devices it creates.
    let mut deny_all = LinuxDeviceCgroup::default();
    deny_all.set_allow(false);
    deny_all.set_access(Some("rwm".to_string()));
    let mut resources = LinuxResources::default();
    resources.set_devices(Some(vec![deny_all]));
    linux.set_resources(Some(resources));
    linux.set_cgroups_path(None);
    let types = [Pid, Network, Ipc, Uts, Mount, Cgroup];
    linux.set_namespaces(Some(types.into_iter().map(namespace).collect()));
    linux.set_devices(None);
    linux.set_seccomp(None);
    linux.set_rootfs_propagation(None);
    linux.set_masked_paths(Some(strings(&[
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
        "/sys/devices/virtual/tpm",
    ])));
    linux.set_readonly_paths(Some(strings(&[
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ])));
    linux.set_mount_label(None);
    linux
}

fn id_map(host_id: u32) -> Vec<LinuxIdMapping> {
    let map = LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(host_id)
        .size(1u32)
        .build()
        .expect(INFALLIBLE);
    vec![map]
}

/// What `runc spec --rootless` changes: a user namespace mapping the caller to root, no
/// network namespace (an unprivileged user could not configure one), `/sys` bind-mounted from
/// the host (sysfs cannot be mounted without owning the network namespace), no `uid=`/`gid=`
/// mount options (those ids are unmapped) and no cgroup resources (not delegated to us). The
/// cgroup mount stays, as in runc: with the cgroup namespace it shows only our own subtree.
fn make_rootless(spec: &mut Spec, euid: u32, egid: u32) {
    if let Some(linux) = spec.linux_mut() {
        let mut namespaces: Vec<LinuxNamespace> = linux
            .namespaces()
            .iter()
            .flatten()
            .filter(|ns| {
                !matches!(
                    ns.typ(),
                    LinuxNamespaceType::Network | LinuxNamespaceType::User
                )
            })
            .cloned()
            .collect();
        namespaces.push(namespace(LinuxNamespaceType::User));
        linux.set_namespaces(Some(namespaces));
        linux.set_uid_mappings(Some(id_map(euid)));
        linux.set_gid_mappings(Some(id_map(egid)));
        linux.set_resources(None);
    }
    if let Some(mounts) = spec.mounts_mut() {
        for m in mounts.iter_mut() {
            if m.destination() == &PathBuf::from("/sys") {
                *m = mount(
                    "/sys",
                    "none",
                    "/sys",
                    &["rbind", "nosuid", "noexec", "nodev", "ro"],
                );
                continue;
            }
            if let Some(options) = m.options_mut() {
                options.retain(|o| !o.starts_with("uid=") && !o.starts_with("gid="));
            }
        }
    }
}

#[cfg(test)]
#[path = "default_tests.rs"]
mod tests;
