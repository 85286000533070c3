//! NAT and published ports in ONE nftables table owned by sangja, `table ip sangja`:
//!
//! ```text
//! set subnets   { ipv4_addr, interval }   every sangja network's subnet      (per network)
//! set masq      { ipv4_addr }             containers whose traffic is NATed   (per container)
//! map ports     { proto . port : addr . port }           published on every local address
//! map hostports { hostaddr . proto . port : addr . port } published on one host address
//! chain prerouting  nat/dstnat   fib daddr type local jump publish
//! chain output      nat/-100     fib daddr type local jump publish   (the host itself, incl. 127.0.0.1)
//! chain publish     dnat via @hostports, then via @ports
//! chain postrouting nat/srcnat   @masq leaving the subnets → masquerade;
//!                                127.0.0.0/8 to a subnet (published port reached from the host's
//!                                loopback) → masquerade; DNATed subnet → subnet (a container
//!                                reaching a published port through the host) → masquerade
//! chain guard       filter/raw   drop 127.0.0.0/8 arriving on anything but lo
//! ```
//!
//! The static part is created once, atomically (`create table` fails the whole batch when a
//! concurrent sangja won the race). Per container there are only set/map ELEMENTS, added in one
//! atomic batch (`create element`, so a host port already published is refused by the kernel)
//! and deleted by their keys on teardown: each container's rules go alone and nothing guesses.
//!
//! Loopback: DNAT in the output hook sends 127.0.0.1:PORT to the container, which the kernel
//! routes out of the bridge only with `net.ipv4.conf.<bridge>.route_localnet=1` (set by
//! `attach`); the masquerade rule then gives it the bridge address as source so the reply comes
//! back. `guard` keeps route_localnet from exposing the host's 127.0.0.0/8 services to the
//! bridge (the CVE-2020-8558 pattern).
//!
//! This speaks to the kernel through the `nft` program (`nft -f -` with a batch): nftables has
//! no permissively licensed Rust library. `nft` is needed only when a container asks for NAT or
//! published ports; its absence is an error that names it.

use std::collections::HashSet;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use super::config::{PortMapping, Subnet, KEY_NAT};

pub const TABLE: &str = "sangja";

/// One container's share of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub subnet: Subnet,
    pub address: Ipv4Addr,
    pub nat: bool,
    pub ports: Vec<PortMapping>,
}

impl Rules {
    /// Whether this container needs nftables at all.
    pub fn needed(&self) -> bool {
        self.nat || !self.ports.is_empty()
    }
}

/// The firewall operations attach/detach need.
pub trait Firewall {
    /// Add the container's elements (and its network's subnet) in one atomic batch.
    fn add(&mut self, rules: &Rules) -> Result<()>;
    /// Delete the container's elements; ones already gone are fine.
    fn remove(&mut self, rules: &Rules) -> Result<()>;
    /// Forget a network's subnet (when the network is removed).
    fn remove_subnet(&mut self, subnet: Subnet) -> Result<()>;
    /// Drop sangja's whole table (when the last network is removed); gone already is fine.
    fn remove_table(&mut self) -> Result<()>;
}

/// The batch that creates the table; fails as a whole when the table exists.
pub fn table_batch() -> String {
    let t = TABLE;
    format!(
        "create table ip {t}\n\
         add set ip {t} subnets {{ type ipv4_addr; flags interval; }}\n\
         add set ip {t} masq {{ type ipv4_addr; }}\n\
         add map ip {t} ports {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}\n\
         add map ip {t} hostports {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}\n\
         add chain ip {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
         add chain ip {t} output {{ type nat hook output priority -100; policy accept; }}\n\
         add chain ip {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add chain ip {t} guard {{ type filter hook prerouting priority raw; policy accept; }}\n\
         add chain ip {t} publish\n\
         add rule ip {t} prerouting fib daddr type local jump publish\n\
         add rule ip {t} output fib daddr type local jump publish\n\
         add rule ip {t} publish dnat ip to ip daddr . meta l4proto . th dport map @hostports\n\
         add rule ip {t} publish dnat ip to meta l4proto . th dport map @ports\n\
         add rule ip {t} postrouting ip saddr @masq ip daddr != @subnets masquerade\n\
         add rule ip {t} postrouting ip saddr 127.0.0.0/8 ip daddr @subnets masquerade\n\
         add rule ip {t} postrouting ct status dnat ip saddr @subnets ip daddr @subnets masquerade\n\
         add rule ip {t} guard iif != \"lo\" ip daddr 127.0.0.0/8 drop\n"
    )
}

/// One per-container element: the set or map, its key, and its full text as nft prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub set: &'static str,
    pub key: String,
    pub full: String,
}

/// The container's elements: its masquerade entry, then one per published port.
pub fn elements(r: &Rules) -> Vec<Element> {
    let mut out = Vec::new();
    if r.nat {
        let a = r.address.to_string();
        out.push(Element {
            set: "masq",
            key: a.clone(),
            full: a,
        });
    }
    for p in &r.ports {
        let (set, key) = match p.host_ip {
            Some(ip) => ("hostports", format!("{ip} . {} . {}", p.proto, p.host_port)),
            None => ("ports", format!("{} . {}", p.proto, p.host_port)),
        };
        let full = format!("{key} : {} . {}", r.address, p.container_port);
        out.push(Element { set, key, full });
    }
    out
}

/// The container's additions, one atomic batch.
pub fn add_batch(r: &Rules) -> String {
    let t = TABLE;
    let mut b = format!("add element ip {t} subnets {{ {} }}\n", r.subnet);
    for e in elements(r) {
        b.push_str(&format!(
            "create element ip {t} {} {{ {} }}\n",
            e.set, e.full
        ));
    }
    b
}

/// Deletion statements for `els`, by key.
pub fn delete_batch(els: &[Element]) -> String {
    els.iter()
        .map(|e| format!("delete element ip {TABLE} {} {{ {} }}\n", e.set, e.key))
        .collect()
}

/// Every element of every set and map in `nft list table` output, as (set name, element text).
pub fn parse_elements(listing: &str) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    let mut current: Option<String> = None;
    let mut in_elems = false;
    for line in listing.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("set ").or_else(|| t.strip_prefix("map ")) {
            current = rest.split_whitespace().next().map(str::to_string);
            continue;
        }
        let body = if let Some(rest) = t.strip_prefix("elements = {") {
            in_elems = true;
            rest
        } else if in_elems {
            t
        } else {
            continue;
        };
        let (body, done) = match body.strip_suffix('}') {
            Some(b) => (b, true),
            None => (body, false),
        };
        if let Some(set) = &current {
            for e in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let e = e.split_whitespace().collect::<Vec<_>>().join(" ");
                out.insert((set.clone(), e));
            }
        }
        if done {
            in_elems = false;
        }
    }
    out
}

/// [`Firewall`] through the `nft` program, run in the calling thread's network namespace.
pub struct NftCli {
    program: PathBuf,
}

/// Where `nft` is looked for besides `$PATH` (sbin directories are often missing from it).
const SBIN: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

fn find_nft() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|d| d.join("nft"))
        .find(|p| p.is_file())
}

impl NftCli {
    /// Find `nft`, or say clearly that it is missing and what needs it.
    pub fn find() -> Result<NftCli> {
        match find_nft() {
            Some(program) => Ok(NftCli { program }),
            None => bail!(
                "nft (nftables) not found in PATH or {}: it is needed for outbound NAT and published ports \
                 (install nftables, or set {KEY_NAT}=false and publish no ports)",
                SBIN.join(", ")
            ),
        }
    }

    pub fn with_program(program: &Path) -> NftCli {
        NftCli {
            program: program.to_path_buf(),
        }
    }

    /// Run one batch; the error is nft's own message.
    pub fn run(&self, batch: &str) -> Result<()> {
        let mut child = Command::new(&self.program)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("run {}", self.program.display()))?;
        let mut stdin = child.stdin.take().context("nft stdin")?;
        let wrote = stdin.write_all(batch.as_bytes());
        drop(stdin);
        let out = child.wait_with_output().context("wait for nft")?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            let first = msg
                .lines()
                .find(|l| l.contains("Error"))
                .unwrap_or_else(|| msg.lines().next().unwrap_or(""))
                .trim()
                .to_string();
            return Err(anyhow!(NftError(first)));
        }
        wrote.context("write the batch to nft")?;
        Ok(())
    }

    fn list_table(&self) -> Result<String> {
        let out = Command::new(&self.program)
            .args(["list", "table", "ip", TABLE])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("run {}", self.program.display()))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            let first = msg.lines().next().unwrap_or("").trim().to_string();
            return Err(anyhow!(NftError(first)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn ensure_table(&self) -> Result<()> {
        match self.run(&table_batch()) {
            Ok(()) => Ok(()),
            Err(e) if is_exists(&e) => Ok(()),
            Err(e) => Err(e.context(format!("create nftables table ip {TABLE}"))),
        }
    }
}

/// nft's error text.
#[derive(Debug)]
pub struct NftError(pub String);

impl std::fmt::Display for NftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nft: {}", self.0)
    }
}

impl std::error::Error for NftError {}

fn nft_text(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<NftError>().map(|n| n.0.as_str())
}

fn is_missing(e: &anyhow::Error) -> bool {
    nft_text(e).is_some_and(|t| t.contains("No such file or directory"))
}

fn is_exists(e: &anyhow::Error) -> bool {
    nft_text(e).is_some_and(|t| t.contains("File exists"))
}

impl Firewall for NftCli {
    fn add(&mut self, rules: &Rules) -> Result<()> {
        let batch = add_batch(rules);
        let first = match self.run(&batch) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let res = if is_missing(&first) {
            self.ensure_table()?;
            self.run(&batch)
        } else {
            Err(first)
        };
        res.map_err(|e| {
            if is_exists(&e) {
                let ports: Vec<String> = rules.ports.iter().map(|p| p.to_string()).collect();
                e.context(format!(
                    "a host port of {} is already published (or {} is already NATed)",
                    ports.join(","),
                    rules.address
                ))
            } else {
                e.context(format!("add nftables elements for {}", rules.address))
            }
        })
    }

    fn remove(&mut self, rules: &Rules) -> Result<()> {
        let mine = elements(rules);
        if mine.is_empty() {
            return Ok(());
        }
        // Delete only the elements that are there AND map to this container: a host port may
        // belong to another container by now (after a failed create, or a reclaim).
        let listing = match self.list_table() {
            Ok(l) => l,
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) => return Err(e.context(format!("list nftables table ip {TABLE}"))),
        };
        let present = parse_elements(&listing);
        let ours: Vec<Element> = mine
            .into_iter()
            .filter(|e| present.contains(&(e.set.to_string(), e.full.clone())))
            .collect();
        if ours.is_empty() {
            return Ok(());
        }
        self.run(&delete_batch(&ours))
            .with_context(|| format!("delete nftables elements of {}", rules.address))
    }

    fn remove_table(&mut self) -> Result<()> {
        match self.run(&format!("delete table ip {TABLE}\n")) {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn remove_subnet(&mut self, subnet: Subnet) -> Result<()> {
        match self.run(&format!(
            "delete element ip {TABLE} subnets {{ {subnet} }}\n"
        )) {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            subnet: "10.123.0.0/24".parse().unwrap(),
            address: Ipv4Addr::new(10, 123, 0, 5),
            nat: true,
            ports: vec![
                "8080:80".parse().unwrap(),
                "127.0.0.1:5353:53/udp".parse().unwrap(),
            ],
        }
    }

    #[test]
    fn add_batch_uses_create_for_container_elements() {
        assert_eq!(
            add_batch(&rules()),
            "add element ip sangja subnets { 10.123.0.0/24 }\n\
             create element ip sangja masq { 10.123.0.5 }\n\
             create element ip sangja ports { tcp . 8080 : 10.123.0.5 . 80 }\n\
             create element ip sangja hostports { 127.0.0.1 . udp . 5353 : 10.123.0.5 . 53 }\n"
        );
    }

    #[test]
    fn deletion_is_by_key() {
        assert_eq!(
            delete_batch(&elements(&rules())),
            "delete element ip sangja masq { 10.123.0.5 }\n\
             delete element ip sangja ports { tcp . 8080 }\n\
             delete element ip sangja hostports { 127.0.0.1 . udp . 5353 }\n"
        );
        let mut r = rules();
        r.nat = false;
        r.ports.clear();
        assert!(!r.needed());
        assert!(elements(&r).is_empty());
    }

    #[test]
    fn listing_is_parsed_into_elements() {
        let listing = "table ip sangja {
	set subnets {
		type ipv4_addr
		flags interval
		elements = { 10.123.0.0/24 }
	}
	set masq {
		type ipv4_addr
		elements = { 10.123.0.5, 10.123.0.6 }
	}
	map ports {
		type inet_proto . inet_service : ipv4_addr . inet_service
		elements = { udp . 53 : 10.1.0.2 . 53,
			     tcp . 8080 : 10.123.0.5 . 80 }
	}
	map hostports {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
	}
	chain publish {
		dnat ip to meta l4proto . th dport map @ports
	}
}
";
        let got = parse_elements(listing);
        let want: HashSet<(String, String)> = [
            ("subnets", "10.123.0.0/24"),
            ("masq", "10.123.0.5"),
            ("masq", "10.123.0.6"),
            ("ports", "udp . 53 : 10.1.0.2 . 53"),
            ("ports", "tcp . 8080 : 10.123.0.5 . 80"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
        // this container's port element is there; the same key mapping elsewhere would not match
        let els = elements(&rules());
        assert!(got.contains(&(els[1].set.to_string(), els[1].full.clone())));
        let other = (
            "ports".to_string(),
            "tcp . 8080 : 10.123.0.9 . 80".to_string(),
        );
        assert!(!got.contains(&other));
    }

    #[test]
    fn table_batch_is_created_atomically() {
        let b = table_batch();
        assert!(b.starts_with("create table ip sangja\n"));
        assert_eq!(b.matches("add rule").count(), 8);
    }

    #[test]
    fn a_missing_program_is_named() {
        let nft = NftCli::with_program(Path::new("/nonexistent/nft"));
        let e = nft.run("list ruleset").unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/nft"), "{e:#}");
    }
}
