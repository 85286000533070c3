//! The two phases of plugging a container in, and teardown.
//!
//! `prepare` (before clone): lock the network, fix its subnet, reclaim leases of dead
//! containers, take a lease (address, veth name and ports recorded up front), rewrite the hosts
//! file and write the container's resolv.conf. `attach` (after init is ready): bridge, sysctls,
//! veth pair, the container's end, nftables elements; any failure undoes everything, `prepare`'s
//! part included. `detach`: every piece, each attempted whatever happened to the others.

use std::fmt;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::config::{PortMapping, Request, Subnet, KEY_SUBNET};
use super::files;
use super::ipam::{self, Lease, NetDir, NetworkConfig, NETWORKS_DIR};
use super::link::{self, Links, VethPlan};
use super::nft::{Firewall, NftCli, Rules};
use super::rtnl::Rtnl;

/// Leases younger than this are never reclaimed, even if `is_alive` says no: the container may
/// be between `prepare` and the first save of its state.
pub const RECLAIM_GRACE_SECS: u64 = 60;

/// What teardown needs, stored by the caller in the container's state. Everything in it was
/// decided by `prepare`, so `detach` never guesses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    /// Network name, which is also the bridge's name.
    pub network: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    pub address: Ipv4Addr,
    /// Host end of the veth pair.
    pub veth: String,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub nat: bool,
    pub hosts_file: PathBuf,
    pub resolv_conf: PathBuf,
    /// What was done that a `--debug` log should say (not stored).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Attachment {
    pub fn rules(&self) -> Rules {
        Rules {
            subnet: self.subnet,
            address: self.address,
            nat: self.nat,
            ports: self.ports.clone(),
        }
    }
    /// Bind mounts to add to the container: (source on the host, destination in the container).
    pub fn mounts(&self) -> [(PathBuf, &'static str); 2] {
        [
            (self.hosts_file.clone(), "/etc/hosts"),
            (self.resolv_conf.clone(), "/etc/resolv.conf"),
        ]
    }
}

/// Result of `prepare`: the lease is taken and the files exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    pub attachment: Attachment,
}

/// Every error of a teardown that went on past them.
#[derive(Debug)]
pub struct TeardownErrors {
    pub id: String,
    pub errors: Vec<anyhow::Error>,
}

impl fmt::Display for TeardownErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network teardown of {}: ", self.id)?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TeardownErrors {}

/// The outside world as attach and detach see it; [`RealSystem`] in production, fakes in tests.
pub trait System {
    /// Netlink in the calling thread's (the host's) network namespace.
    fn host_links(&mut self) -> Result<Box<dyn Links>>;
    /// Netlink in the network namespace `netns`.
    fn inside_links(&mut self, netns: &File) -> Result<Box<dyn Links>>;
    fn firewall(&mut self) -> Result<Box<dyn Firewall>>;
    /// Set `/proc/sys/<path…>` to `value`; `Ok(true)` when it changed.
    fn sysctl(&mut self, path: &[&str], value: &str) -> Result<bool>;
    /// `/proc/<pid>/ns/net`.
    fn open_netns(&mut self, pid: i32) -> Result<File>;
    /// Host resolv.conf and the fallback used when it names only loopback servers.
    fn resolv_sources(&self) -> (PathBuf, PathBuf) {
        (
            PathBuf::from("/etc/resolv.conf"),
            PathBuf::from("/run/systemd/resolve/resolv.conf"),
        )
    }
}

/// The real kernel: netlink sockets, `nft`, /proc.
pub struct RealSystem;

impl System for RealSystem {
    fn host_links(&mut self) -> Result<Box<dyn Links>> {
        Ok(Box::new(Rtnl::open()?))
    }
    fn inside_links(&mut self, netns: &File) -> Result<Box<dyn Links>> {
        Ok(Box::new(Rtnl::open_in(netns)?))
    }
    fn firewall(&mut self) -> Result<Box<dyn Firewall>> {
        Ok(Box::new(NftCli::find()?))
    }
    fn sysctl(&mut self, path: &[&str], value: &str) -> Result<bool> {
        let mut p = PathBuf::from("/proc/sys");
        p.extend(path);
        let cur = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
        if cur.trim() == value {
            return Ok(false);
        }
        std::fs::write(&p, value).with_context(|| format!("write {value} to {}", p.display()))?;
        Ok(true)
    }
    fn open_netns(&mut self, pid: i32) -> Result<File> {
        let p = format!("/proc/{pid}/ns/net");
        File::open(&p).with_context(|| format!("open {p} (is the container's init running?)"))
    }
}

/// Phase one, before the container's process exists. See the module header.
pub fn prepare_with(
    sys: &mut dyn System,
    root: &Path,
    req: &Request,
    is_alive: &dyn Fn(&str) -> bool,
    grace_secs: u64,
) -> Result<Prepared> {
    let nd = NetDir::new(root, &req.bridge);
    let _lock = nd.lock()?;
    let cfg = network_config(root, &nd, req)?;
    let mut leases = nd.load_leases()?;

    let now = ipam::now_secs();
    let stale: Vec<Lease> = ipam::stale(&leases, &req.id, is_alive, now, grace_secs)
        .into_iter()
        .cloned()
        .collect();
    let mut notes = Vec::new();
    for l in stale {
        match teardown_host_side(sys, &cfg, &l) {
            Ok(()) => {
                leases.leases.retain(|x| x.id != l.id);
                let _ = files::remove_if_present(&nd.resolv_path(&l.id));
                notes.push(format!(
                    "reclaimed lease {} of gone container {}",
                    l.address, l.id
                ));
            }
            Err(errs) => notes.push(format!("could not reclaim lease of {}: {errs}", l.id)),
        }
    }

    if let Some((p, who)) = ipam::port_conflict(&leases, &req.id, &req.ports) {
        bail!("host port {p} is already published by container {who}");
    }
    let veth = link::veth_name(&req.id);
    if let Some(l) = leases
        .leases
        .iter()
        .find(|l| l.veth == veth && l.id != req.id)
    {
        bail!(
            "veth name {veth} of {} clashes with container {}",
            req.id,
            l.id
        );
    }
    let address = ipam::allocate(&leases, cfg.subnet, &req.id, req.ip)
        .with_context(|| format!("network {}", cfg.name))?;
    if req.ip.is_none() {
        leases.next = Some(ipam::next_after(cfg.subnet, address));
    }
    leases.leases.push(Lease {
        id: req.id.clone(),
        address,
        hostname: req.hostname.clone(),
        veth: veth.clone(),
        ports: req.ports.clone(),
        nat: req.nat,
        created: now,
    });
    nd.save_leases(&leases)?;

    let attachment = Attachment {
        id: req.id.clone(),
        network: cfg.name.clone(),
        subnet: cfg.subnet,
        gateway: cfg.gateway,
        address,
        veth,
        ports: req.ports.clone(),
        nat: req.nat,
        hosts_file: nd.hosts_path(),
        resolv_conf: nd.resolv_path(&req.id),
        notes,
    };
    let written = (|| -> Result<()> {
        files::rewrite_in_place(
            &nd.hosts_path(),
            &files::render_hosts(&cfg.name, &leases.leases),
        )?;
        let dir = nd.dir.join("resolv");
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let (host, fallback) = sys.resolv_sources();
        let text = files::render_resolv(&req.dns, &host, &fallback);
        ipam::write_atomic(&attachment.resolv_conf, text.as_bytes())
    })();
    if let Err(e) = written {
        leases.leases.retain(|l| l.id != req.id);
        let undo = nd.save_leases(&leases).and_then(|_| {
            files::rewrite_in_place(
                &nd.hosts_path(),
                &files::render_hosts(&cfg.name, &leases.leases),
            )
        });
        let _ = files::remove_if_present(&attachment.resolv_conf);
        return Err(match undo {
            Ok(()) => e,
            Err(u) => e.context(format!("and releasing the lease failed too: {u:#}")),
        });
    }
    Ok(Prepared { attachment })
}

/// The network's config, created (with its subnet fixed) on first use.
fn network_config(root: &Path, nd: &NetDir, req: &Request) -> Result<NetworkConfig> {
    if let Some(cfg) = nd.load_config()? {
        if let Some(want) = req.subnet {
            if want != cfg.subnet {
                bail!(
                    "network {} has subnet {}, but {KEY_SUBNET} asks for {want}",
                    cfg.name,
                    cfg.subnet
                );
            }
        }
        return Ok(cfg);
    }
    // Creating a network: one at a time, so two new networks never pick the same subnet.
    let _global = ipam::lock_file(&root.join(format!("{NETWORKS_DIR}.lock")))?;
    let others = ipam::all_configs(root)?;
    let subnet = ipam::choose_subnet(&req.bridge, req.subnet, &others)?;
    let cfg = NetworkConfig {
        name: req.bridge.clone(),
        subnet,
        gateway: subnet.gateway(),
    };
    nd.save_config(&cfg)?;
    Ok(cfg)
}

/// Phase two, after the container's init exists (and waits at the start gate).
pub fn attach_with(
    sys: &mut dyn System,
    root: &Path,
    prepared: &Prepared,
    init_pid: i32,
) -> Result<Attachment> {
    let mut a = prepared.attachment.clone();
    let res = plug(sys, root, &mut a, init_pid);
    match res {
        Ok(()) => Ok(a),
        Err(e) => match detach_with(sys, root, &a) {
            Ok(()) => Err(e),
            Err(t) => Err(e.context(format!("and undoing it failed: {t}"))),
        },
    }
}

fn plug(sys: &mut dyn System, root: &Path, a: &mut Attachment, pid: i32) -> Result<()> {
    let netns = sys.open_netns(pid)?;
    let mut host = sys.host_links()?;
    let bridge = {
        let _lock = NetDir::new(root, &a.network).lock()?;
        link::ensure_bridge(host.as_mut(), &a.network, a.gateway, a.subnet.prefix)?
    };
    if bridge.created {
        a.notes.push(format!(
            "created bridge {} with {}/{}",
            a.network, a.gateway, a.subnet.prefix
        ));
    }
    if sys.sysctl(&["net", "ipv4", "ip_forward"], "1")? {
        a.notes
            .push("enabled net.ipv4.ip_forward in this network namespace".into());
    }
    if !a.ports.is_empty()
        && sys.sysctl(&["net", "ipv4", "conf", &a.network, "route_localnet"], "1")?
    {
        a.notes.push(format!(
            "enabled net.ipv4.conf.{}.route_localnet for published ports on 127.0.0.1",
            a.network
        ));
    }
    let plan = VethPlan {
        host_name: a.veth.clone(),
        peer_name: "eth0".into(),
        mtu: bridge.mtu,
        bridge_index: bridge.index,
        address: a.address,
        prefix: a.subnet.prefix,
        gateway: a.gateway,
    };
    link::plumb(
        host.as_mut(),
        netns.as_fd(),
        &mut || sys.inside_links(&netns),
        &plan,
    )?;
    a.notes.push(format!(
        "plugged {} into {} as {}/{}",
        a.veth, a.network, a.address, a.subnet.prefix
    ));
    let rules = a.rules();
    if rules.needed() {
        sys.firewall()?.add(&rules)?;
    }
    Ok(())
}

/// Remove what a container's lease stands for on the host: nftables elements and the veth.
fn teardown_host_side(
    sys: &mut dyn System,
    cfg: &NetworkConfig,
    l: &Lease,
) -> Result<(), TeardownErrors> {
    let mut errors = Vec::new();
    let rules = Rules {
        subnet: cfg.subnet,
        address: l.address,
        nat: l.nat,
        ports: l.ports.clone(),
    };
    if rules.needed() {
        // Without nft nothing can have been added: the elements are only ever added through it.
        if let Ok(mut fw) = sys.firewall() {
            if let Err(e) = fw.remove(&rules) {
                errors.push(e.context(format!("remove nftables elements of {}", l.address)));
            }
        }
    }
    if let Err(e) = sys.host_links().and_then(|mut h| h.delete(&l.veth)) {
        errors.push(e.context(format!("delete veth {}", l.veth)));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TeardownErrors {
            id: l.id.clone(),
            errors,
        })
    }
}

/// Remove everything of `a`: nftables elements, veth (gone already if the netns died), lease,
/// hosts entry, resolv.conf. Goes on past failures and reports them all. Idempotent.
pub fn detach_with(
    sys: &mut dyn System,
    root: &Path,
    a: &Attachment,
) -> Result<(), TeardownErrors> {
    let cfg = NetworkConfig {
        name: a.network.clone(),
        subnet: a.subnet,
        gateway: a.gateway,
    };
    let lease = Lease {
        id: a.id.clone(),
        address: a.address,
        hostname: None,
        veth: a.veth.clone(),
        ports: a.ports.clone(),
        nat: a.nat,
        created: 0,
    };
    let mut errors = match teardown_host_side(sys, &cfg, &lease) {
        Ok(()) => Vec::new(),
        Err(t) => t.errors,
    };
    let nd = NetDir::new(root, &a.network);
    if nd.dir.exists() {
        let released = (|| -> Result<()> {
            let _lock = nd.lock()?;
            let mut leases = nd.load_leases()?;
            let before = leases.leases.len();
            leases
                .leases
                .retain(|l| !(l.id == a.id && l.address == a.address));
            if leases.leases.len() != before {
                nd.save_leases(&leases)?;
            }
            files::rewrite_in_place(
                &nd.hosts_path(),
                &files::render_hosts(&a.network, &leases.leases),
            )
        })();
        if let Err(e) = released {
            errors.push(e.context(format!(
                "release lease {} in network {}",
                a.address, a.network
            )));
        }
    }
    if let Err(e) = files::remove_if_present(&a.resolv_conf) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TeardownErrors {
            id: a.id.clone(),
            errors,
        })
    }
}

/// Remove a network that no container uses any more: its bridge, its subnet in the nftables
/// table and its directory (`sangja network rm NAME`). Leases of gone containers are reclaimed
/// first; live ones make it fail, naming them.
pub fn remove_network_with(
    sys: &mut dyn System,
    root: &Path,
    name: &str,
    is_alive: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let nd = NetDir::new(root, name);
    if !nd.dir.exists() {
        bail!("network {name} does not exist");
    }
    let lock = nd.lock()?;
    let cfg = nd
        .load_config()?
        .with_context(|| format!("network {name} has no network.json"))?;
    let mut leases = nd.load_leases()?;
    let stale: Vec<Lease> = ipam::stale(&leases, "", is_alive, ipam::now_secs(), 0)
        .into_iter()
        .cloned()
        .collect();
    for l in stale {
        teardown_host_side(sys, &cfg, &l).map_err(|t| anyhow::anyhow!(t))?;
        leases.leases.retain(|x| x.id != l.id);
    }
    if !leases.leases.is_empty() {
        nd.save_leases(&leases)?;
        let ids: Vec<&str> = leases.leases.iter().map(|l| l.id.as_str()).collect();
        bail!("network {name} is still used by {}", ids.join(", "));
    }
    sys.host_links()?
        .delete(name)
        .with_context(|| format!("delete bridge {name}"))?;
    if let Ok(mut fw) = sys.firewall() {
        fw.remove_subnet(cfg.subnet)?;
    }
    drop(lock);
    std::fs::remove_dir_all(&nd.dir).with_context(|| format!("remove {}", nd.dir.display()))?;
    // The last network takes the table (and its hooked chains) with it; under the lock that
    // new networks take, so none appears meanwhile.
    let _global = ipam::lock_file(&root.join(format!("{NETWORKS_DIR}.lock")))?;
    let others = std::fs::read_dir(root.join(NETWORKS_DIR))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.path().join("network.json").exists())
        })
        .unwrap_or(false);
    if !others {
        if let Ok(mut fw) = sys.firewall() {
            fw.remove_table()?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "attach_tests.rs"]
mod tests;
