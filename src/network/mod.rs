//! Built-in container networking (layer 2; uses `spec` types, `error`): a bridge, a veth pair per
//! container, IPAM, NAT and published ports in one nftables table, a hosts file per network, and
//! teardown that goes on past failures. Only when the config asks for it through the
//! `run.sangja.network*` annotations ([`config`] lists the keys); otherwise a new network
//! namespace keeps only `lo`, and a namespace given by `path` is joined untouched.
//!
//! How `container` drives it:
//!
//! ```text
//! create, before any side effect: let req = network::Request::from_spec(&spec, id)?;  // Option
//! create, before clone (mounts need the files):
//!     let prep = network::prepare(root, &req, &is_alive)?;         // rollback: network::detach(root, &prep.attachment)
//!     add bind mounts prep.attachment.mounts()  (/etc/hosts, /etc/resolv.conf)
//! create, after init reported ready:  let att = network::attach(root, &prep, init_pid)?;
//!     (on error everything, prepare's part included, is already undone)
//!     save att in state.json; log att.notes at debug
//! delete (also --force, netns gone or not): network::detach(root, &att)  -> Err(TeardownErrors)
//! run flags: network::apply_run_flags(&mut spec, &flags)?
//! ```
//!
//! The host network namespace is the calling thread's: sangja's bridge, veths, sysctls and
//! nftables table live wherever `create` runs (tests run it inside a namespace of their own).

pub mod attach;
pub mod config;
pub mod files;
pub mod ipam;
pub mod link;
mod netlink;
pub mod nft;
pub mod rtnl;

#[cfg(test)]
mod root_tests;

use std::path::Path;

pub use attach::{Attachment, Prepared, RealSystem, System, TeardownErrors, RECLAIM_GRACE_SECS};
pub use config::{
    apply_run_flags, validate, NetworkMode, PortMapping, Proto, Request, RunFlags, Subnet,
};

/// Phase one, before clone: take the lease and write the hosts and resolv.conf files.
/// `is_alive(id)` says whether container `id` still exists (a state directory whose init runs, or
/// one still being created); leases of gone containers older than [`RECLAIM_GRACE_SECS`] are
/// reclaimed. The caller has checked that no container `id` exists.
pub fn prepare(
    root: &Path,
    req: &Request,
    is_alive: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Prepared> {
    attach::prepare_with(&mut RealSystem, root, req, is_alive, RECLAIM_GRACE_SECS)
}

/// Phase two, once the container's init (pid `init_pid`, in its new network namespace) is ready.
/// On failure every step, `prepare`'s included, has been undone.
pub fn attach(root: &Path, prepared: &Prepared, init_pid: i32) -> anyhow::Result<Attachment> {
    attach::attach_with(&mut RealSystem, root, prepared, init_pid)
}

/// Remove everything of the attachment; works when the container's netns is gone; idempotent.
pub fn detach(root: &Path, attachment: &Attachment) -> Result<(), TeardownErrors> {
    attach::detach_with(&mut RealSystem, root, attachment)
}

/// `sangja network rm NAME`: remove an unused network's bridge, subnet and files.
pub fn remove_network(
    root: &Path,
    name: &str,
    is_alive: &dyn Fn(&str) -> bool,
) -> anyhow::Result<()> {
    attach::remove_network_with(&mut RealSystem, root, name, is_alive)
}
