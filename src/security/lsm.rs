//! `process.apparmorProfile` and `process.selinuxLabel`: both are "on the next execve" labels
//! written to procfs. As in runc, a label the host cannot apply is an error, never ignored:
//! runc refuses an SELinux label when SELinux is off, and an AppArmor profile fails to apply
//! when AppArmor is off.

use std::path::Path;

use anyhow::Context;

use crate::error::Error;

/// AppArmor is enabled when its securityfs directory exists and the module says `Y` (runc's
/// test).
pub fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .map(|b| b.first() == Some(&b'Y'))
            .unwrap_or(false)
}

/// SELinux is enabled when selinuxfs is mounted and this process has a real context.
pub fn selinux_enabled() -> bool {
    let mounted = Path::new("/sys/fs/selinux/enforce").exists();
    let current = std::fs::read_to_string("/proc/self/attr/current").unwrap_or_default();
    let current = current.trim_end_matches(['\0', '\n']);
    mounted && !current.is_empty() && current != "kernel"
}

/// Check the requested labels against the host. Empty strings mean "not set".
pub fn plan(
    apparmor: Option<&str>,
    selinux: Option<&str>,
) -> Result<(Option<String>, Option<String>), Error> {
    let apparmor = apparmor.filter(|s| !s.is_empty());
    let selinux = selinux.filter(|s| !s.is_empty());
    if let Some(p) = apparmor {
        if !apparmor_enabled() {
            return Err(Error::invalid(
                "process.apparmorProfile",
                format!("profile {p:?} requested but AppArmor is not enabled on this host"),
            ));
        }
    }
    if let Some(l) = selinux {
        if !selinux_enabled() {
            return Err(Error::invalid(
                "process.selinuxLabel",
                format!("label {l:?} requested but SELinux is not enabled on this host"),
            ));
        }
    }
    Ok((apparmor.map(String::from), selinux.map(String::from)))
}

fn write_attr(paths: &[&str], value: &str) -> anyhow::Result<()> {
    let path = paths
        .iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or(&paths[paths.len() - 1]);
    std::fs::write(path, value).with_context(|| format!("writing {value:?} to {path}"))
}

/// Have the next execve switch to AppArmor `profile` (aa_change_onexec).
pub fn apply_apparmor(profile: &str) -> anyhow::Result<()> {
    write_attr(
        &[
            "/proc/thread-self/attr/apparmor/exec",
            "/proc/thread-self/attr/exec",
        ],
        &format!("exec {profile}"),
    )
    .context("applying process.apparmorProfile")
}

/// Have the next execve switch to SELinux `label` (setexeccon).
pub fn apply_selinux(label: &str) -> anyhow::Result<()> {
    write_attr(&["/proc/thread-self/attr/exec"], label).context("applying process.selinuxLabel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_on_a_host_without_the_lsm_are_invalid() {
        assert_eq!(plan(Some(""), Some("")).unwrap(), (None, None));
        if !apparmor_enabled() {
            let e = plan(Some("docker-default"), None).unwrap_err();
            assert!(e
                .to_string()
                .starts_with("invalid config: process.apparmorProfile: "));
        }
        if !selinux_enabled() {
            let e = plan(None, Some("system_u:system_r:container_t:s0")).unwrap_err();
            assert!(e.to_string().contains("SELinux is not enabled"));
        }
    }
}
