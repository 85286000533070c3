//! hostname and domainname of a private UTS namespace.

use anyhow::Context;
use oci_spec::runtime::Spec;

use crate::sys::uts::set_domainname;

/// Apply `hostname` and `domainname` when set (validation made sure a UTS namespace exists).
pub fn set_hostname_and_domain(spec: &Spec) -> anyhow::Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("set hostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d).with_context(|| format!("set domainname {d:?}"))?;
    }
    Ok(())
}
