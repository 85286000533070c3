//! IPAM: one directory per network under `<root>/_networks/<name>/` holding `network.json` (the
//! subnet, fixed when the network is first used), `leases.json` (one lease per container) and the
//! network's `hosts` file. Every change happens under an exclusive `flock` of the directory's
//! `lock` file, so concurrent `create`s never hand out one address twice.
//!
//! `_networks` (and `_networks.lock`, taken while a new network picks its subnet) can never be a
//! container's state directory: ids must start with a letter or digit.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::config::{PortMapping, Subnet, DEFAULT_BRIDGE, DEFAULT_SUBNET};

/// Directory under the sangja root that holds every network's files.
pub const NETWORKS_DIR: &str = "_networks";

/// A network's fixed facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    pub name: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
}

/// One container's claim on the network, written before any host-side object exists, so a
/// crashed or killed `create` leaves a record that says what to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub address: Ipv4Addr,
    #[serde(default)]
    pub hostname: Option<String>,
    /// Host end of the container's veth pair (it may not exist yet, or any more).
    pub veth: String,
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub nat: bool,
    /// Seconds since the epoch when the lease was taken.
    pub created: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Leases {
    /// Where the next dynamic allocation starts looking (round robin, so a freed address is
    /// not handed out again at once while peers may still cache its MAC).
    #[serde(default)]
    pub next: Option<Ipv4Addr>,
    #[serde(default)]
    pub leases: Vec<Lease>,
}

/// Paths of one network's directory.
#[derive(Debug, Clone)]
pub struct NetDir {
    pub dir: PathBuf,
}

impl NetDir {
    pub fn new(root: &Path, name: &str) -> NetDir {
        NetDir {
            dir: root.join(NETWORKS_DIR).join(name),
        }
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("network.json")
    }
    pub fn leases_path(&self) -> PathBuf {
        self.dir.join("leases.json")
    }
    pub fn hosts_path(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    pub fn resolv_path(&self, id: &str) -> PathBuf {
        self.dir.join("resolv").join(format!("{id}.conf"))
    }

    /// Take the network's lock, creating the directory if needed. Held until dropped.
    pub fn lock(&self) -> Result<Flock<File>> {
        fs::create_dir_all(&self.dir).with_context(|| format!("create {}", self.dir.display()))?;
        lock_file(&self.dir.join("lock"))
    }

    pub fn load_config(&self) -> Result<Option<NetworkConfig>> {
        read_json(&self.config_path())
    }

    pub fn load_leases(&self) -> Result<Leases> {
        Ok(read_json(&self.leases_path())?.unwrap_or_default())
    }

    pub fn save_config(&self, cfg: &NetworkConfig) -> Result<()> {
        write_atomic(&self.config_path(), &serde_json::to_vec_pretty(cfg)?)
    }

    pub fn save_leases(&self, leases: &Leases) -> Result<()> {
        write_atomic(&self.leases_path(), &serde_json::to_vec_pretty(leases)?)
    }
}

pub fn lock_file(path: &Path) -> Result<Flock<File>> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::Error::from(e).context(format!("flock {}", path.display())))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .with_context(|| format!("parse {}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Write through a temporary file, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("rename {} to {}", tmp.display(), path.display()))
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Subnet for a network that is used for the first time: the one asked for, or the default for
/// `sangja0`, or the first free 10.123.N.0/24. It must not overlap another sangja network.
pub fn choose_subnet(
    name: &str,
    wanted: Option<Subnet>,
    others: &[NetworkConfig],
) -> Result<Subnet> {
    let clash = |s: &Subnet| {
        others
            .iter()
            .find(|o| o.name != name && o.subnet.overlaps(s))
    };
    if let Some(s) = wanted {
        if let Some(o) = clash(&s) {
            bail!("subnet {s} overlaps {} of network {}", o.subnet, o.name);
        }
        return Ok(s);
    }
    let first = if name == DEFAULT_BRIDGE { 0 } else { 1 };
    for n in first..=255u8 {
        let o = DEFAULT_SUBNET.network.octets();
        let s = Subnet {
            network: Ipv4Addr::new(o[0], o[1], n, 0),
            prefix: 24,
        };
        if clash(&s).is_none() {
            return Ok(s);
        }
    }
    bail!("no free 10.123.N.0/24 subnet left for network {name}: give one with the subnet key")
}

/// Every network's config, read without their locks (each file is replaced atomically).
pub fn all_configs(root: &Path) -> Result<Vec<NetworkConfig>> {
    let dir = root.join(NETWORKS_DIR);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("read {}", dir.display())),
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Some(name) = e.file_name().to_str() {
            if let Some(cfg) = NetDir::new(root, name).load_config()? {
                out.push(cfg);
            }
        }
    }
    Ok(out)
}

/// Pick an address for `id`: the static one when asked (refused when taken or not assignable),
/// else the first free one from the round-robin hint.
pub fn allocate(
    leases: &Leases,
    subnet: Subnet,
    id: &str,
    wanted: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    let used: HashSet<Ipv4Addr> = leases
        .leases
        .iter()
        .filter(|l| l.id != id)
        .map(|l| l.address)
        .collect();
    if let Some(ip) = wanted {
        if !subnet.assignable(ip) {
            bail!(
                "address {ip} is not assignable in {subnet} (network, gateway {} and broadcast are reserved)",
                subnet.gateway()
            );
        }
        if let Some(l) = leases.leases.iter().find(|l| l.address == ip && l.id != id) {
            bail!("address {ip} is already used by container {}", l.id);
        }
        return Ok(ip);
    }
    let first = u32::from(subnet.gateway()) + 1;
    let last = u32::from(subnet.broadcast()) - 1;
    if first > last {
        bail!("subnet {subnet} has no address for containers");
    }
    let start = leases
        .next
        .map(u32::from)
        .filter(|n| (first..=last).contains(n))
        .unwrap_or(first);
    let span = last - first + 1;
    for i in 0..span {
        let cand = first + (start - first + i) % span;
        let ip = Ipv4Addr::from(cand);
        if !used.contains(&ip) {
            return Ok(ip);
        }
    }
    bail!("no free address left in {subnet} ({} in use)", used.len())
}

/// The round-robin hint after handing out `ip`.
pub fn next_after(subnet: Subnet, ip: Ipv4Addr) -> Ipv4Addr {
    let n = u32::from(ip) + 1;
    if n >= u32::from(subnet.broadcast()) {
        Ipv4Addr::from(u32::from(subnet.gateway()) + 1)
    } else {
        Ipv4Addr::from(n)
    }
}

/// Leases to reclaim before allocating for `id`: an older lease of `id` itself (the caller made
/// sure no container `id` exists), and leases of containers `is_alive` says are gone that are
/// older than `grace_secs` (so a container still between `prepare` and saving its state is
/// never taken for dead).
pub fn stale<'a>(
    leases: &'a Leases,
    id: &str,
    is_alive: &dyn Fn(&str) -> bool,
    now: u64,
    grace_secs: u64,
) -> Vec<&'a Lease> {
    leases
        .leases
        .iter()
        .filter(|l| l.id == id || (now.saturating_sub(l.created) >= grace_secs && !is_alive(&l.id)))
        .collect()
}

/// Host ports of `ports` already published by another lease of this network.
pub fn port_conflict(
    leases: &Leases,
    id: &str,
    ports: &[PortMapping],
) -> Option<(PortMapping, String)> {
    for l in leases.leases.iter().filter(|l| l.id != id) {
        for q in &l.ports {
            for p in ports {
                if p.proto == q.proto
                    && p.host_port == q.host_port
                    && (p.host_ip.is_none() || q.host_ip.is_none() || p.host_ip == q.host_ip)
                {
                    return Some((*p, l.id.clone()));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::config::Proto;

    fn lease(id: &str, ip: [u8; 4], created: u64) -> Lease {
        Lease {
            id: id.into(),
            address: Ipv4Addr::from(ip),
            hostname: None,
            veth: format!("v{id}"),
            ports: vec![],
            nat: true,
            created,
        }
    }

    fn net() -> Subnet {
        "10.123.0.0/29".parse().unwrap()
    }

    #[test]
    fn allocation_skips_network_gateway_broadcast_and_used() {
        let mut ls = Leases::default();
        let mut got = vec![];
        for i in 0..5 {
            let ip = allocate(&ls, net(), &format!("c{i}"), None).unwrap();
            ls.next = Some(next_after(net(), ip));
            ls.leases.push(lease(&format!("c{i}"), ip.octets(), 0));
            got.push(ip.octets()[3]);
        }
        // /29: .0 network, .1 gateway, .7 broadcast
        assert_eq!(got, vec![2, 3, 4, 5, 6]);
        let err = allocate(&ls, net(), "c9", None).unwrap_err().to_string();
        assert!(
            err.contains("no free address left in 10.123.0.0/29"),
            "{err}"
        );
    }

    #[test]
    fn round_robin_does_not_reuse_a_freed_address_at_once() {
        let mut ls = Leases::default();
        ls.leases.push(lease("a", [10, 123, 0, 2], 0));
        ls.leases.push(lease("b", [10, 123, 0, 3], 0));
        ls.next = Some(Ipv4Addr::new(10, 123, 0, 4));
        ls.leases.retain(|l| l.id != "a");
        assert_eq!(
            allocate(&ls, net(), "c", None).unwrap(),
            Ipv4Addr::new(10, 123, 0, 4)
        );
        ls.next = Some(Ipv4Addr::new(10, 123, 0, 6));
        ls.leases.push(lease("x", [10, 123, 0, 6], 0));
        // wraps around past the broadcast address
        assert_eq!(
            allocate(&ls, net(), "c", None).unwrap(),
            Ipv4Addr::new(10, 123, 0, 2)
        );
        assert_eq!(
            next_after(net(), Ipv4Addr::new(10, 123, 0, 6)),
            Ipv4Addr::new(10, 123, 0, 2)
        );
    }

    #[test]
    fn static_address_honoured_or_refused() {
        let mut ls = Leases::default();
        ls.leases.push(lease("a", [10, 123, 0, 2], 0));
        let ip = Ipv4Addr::new(10, 123, 0, 5);
        assert_eq!(allocate(&ls, net(), "b", Some(ip)).unwrap(), ip);
        let e = allocate(&ls, net(), "b", Some(Ipv4Addr::new(10, 123, 0, 2))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "address 10.123.0.2 is already used by container a"
        );
        for bad in [
            [10, 123, 0, 0],
            [10, 123, 0, 1],
            [10, 123, 0, 7],
            [10, 9, 0, 3],
        ] {
            let e = allocate(&ls, net(), "b", Some(Ipv4Addr::from(bad))).unwrap_err();
            assert!(e.to_string().contains("not assignable"), "{e}");
        }
        // its own older lease does not block an id
        assert!(allocate(&ls, net(), "a", Some(Ipv4Addr::new(10, 123, 0, 2))).is_ok());
    }

    #[test]
    fn stale_takes_dead_old_leases_and_the_same_id() {
        let mut ls = Leases::default();
        ls.leases.push(lease("alive", [10, 123, 0, 2], 0));
        ls.leases.push(lease("dead-old", [10, 123, 0, 3], 0));
        ls.leases.push(lease("dead-young", [10, 123, 0, 4], 95));
        ls.leases.push(lease("me", [10, 123, 0, 5], 99));
        let alive = |id: &str| id == "alive";
        let s: Vec<&str> = stale(&ls, "me", &alive, 100, 30)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(s, vec!["dead-old", "me"]);
    }

    #[test]
    fn subnets_default_and_no_overlap() {
        let cfg = |name: &str, s: &str| NetworkConfig {
            name: name.into(),
            subnet: s.parse().unwrap(),
            gateway: Ipv4Addr::UNSPECIFIED,
        };
        assert_eq!(
            choose_subnet("sangja0", None, &[]).unwrap().to_string(),
            "10.123.0.0/24"
        );
        let others = [cfg("sangja0", "10.123.0.0/24"), cfg("n1", "10.123.1.0/24")];
        assert_eq!(
            choose_subnet("n2", None, &others).unwrap().to_string(),
            "10.123.2.0/24"
        );
        let e = choose_subnet("n2", Some("10.123.0.0/16".parse().unwrap()), &others).unwrap_err();
        assert_eq!(
            e.to_string(),
            "subnet 10.123.0.0/16 overlaps 10.123.0.0/24 of network sangja0"
        );
    }

    #[test]
    fn port_conflicts_within_a_network() {
        let mut ls = Leases::default();
        let mut a = lease("a", [10, 123, 0, 2], 0);
        a.ports.push("8080:80".parse().unwrap());
        ls.leases.push(a);
        let p = |s: &str| -> PortMapping { s.parse().unwrap() };
        assert!(port_conflict(&ls, "b", &[p("8080:80/udp")]).is_none());
        let (m, who) = port_conflict(&ls, "b", &[p("127.0.0.1:8080:81")]).unwrap();
        assert_eq!(
            (m.proto, m.host_port, who.as_str()),
            (Proto::Tcp, 8080, "a")
        );
        assert!(port_conflict(&ls, "a", &[p("8080:80")]).is_none());
    }

    #[test]
    fn lock_serialises_writers_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let nd = NetDir::new(dir.path(), "n");
        let subnet: Subnet = "10.123.0.0/24".parse().unwrap();
        std::thread::scope(|s| {
            for t in 0..16 {
                let nd = nd.clone();
                s.spawn(move || {
                    for i in 0..8 {
                        let _g = nd.lock().unwrap();
                        let mut ls = nd.load_leases().unwrap();
                        let id = format!("t{t}-{i}");
                        let ip = allocate(&ls, subnet, &id, None).unwrap();
                        ls.next = Some(next_after(subnet, ip));
                        ls.leases.push(lease(&id, ip.octets(), 0));
                        nd.save_leases(&ls).unwrap();
                    }
                });
            }
        });
        let ls = nd.load_leases().unwrap();
        let set: HashSet<Ipv4Addr> = ls.leases.iter().map(|l| l.address).collect();
        assert_eq!(ls.leases.len(), 128);
        assert_eq!(set.len(), 128);
    }
}
