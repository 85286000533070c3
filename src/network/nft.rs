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

fn port_key(p: &PortMapping) -> (&'static str, String) {
    match p.host_ip {
        Some(ip) => ("hostports", format!("{ip} . {} . {}", p.proto, p.host_port)),
        None => ("ports", format!("{} . {}", p.proto, p.host_port)),
    }
}

/// The container's additions, one atomic batch.
pub fn add_batch(r: &Rules) -> String {
    let t = TABLE;
    let mut b = format!("add element ip {t} subnets {{ {} }}\n", r.subnet);
    if r.nat {
        b.push_str(&format!("create element ip {t} masq {{ {} }}\n", r.address));
    }
    for p in &r.ports {
        let (map, key) = port_key(p);
        b.push_str(&format!(
            "create element ip {t} {map} {{ {key} : {} . {} }}\n",
            r.address, p.container_port
        ));
    }
    b
}

/// The container's deletions, one statement each.
pub fn remove_statements(r: &Rules) -> Vec<String> {
    let t = TABLE;
    let mut out = Vec::new();
    for p in &r.ports {
        let (map, key) = port_key(p);
        out.push(format!("delete element ip {t} {map} {{ {key} }}\n"));
    }
    if r.nat {
        out.push(format!("delete element ip {t} masq {{ {} }}\n", r.address));
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
        let stmts = remove_statements(rules);
        if stmts.is_empty() {
            return Ok(());
        }
        match self.run(&stmts.concat()) {
            Ok(()) => return Ok(()),
            Err(e) if !is_missing(&e) => {
                return Err(e.context(format!("delete nftables elements of {}", rules.address)))
            }
            Err(_) => {}
        }
        // Some element (or the whole table) is gone already: delete the rest one by one.
        let mut errors = Vec::new();
        for s in stmts {
            match self.run(&s) {
                Ok(()) => {}
                Err(e) if is_missing(&e) => {}
                Err(e) => errors.push(format!("{}: {e:#}", s.trim())),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("{}", errors.join("; "))
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
    fn removal_names_every_key() {
        assert_eq!(
            remove_statements(&rules()),
            vec![
                "delete element ip sangja ports { tcp . 8080 }\n",
                "delete element ip sangja hostports { 127.0.0.1 . udp . 5353 }\n",
                "delete element ip sangja masq { 10.123.0.5 }\n",
            ]
        );
        let mut r = rules();
        r.nat = false;
        r.ports.clear();
        assert!(!r.needed());
        assert!(remove_statements(&r).is_empty());
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
