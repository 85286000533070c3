//! What the config asks of sangja networking: annotation keys, their parsing and validation, and
//! the `sangja run` flags that are translated into them. Pure: no side effects.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// `bridge` turns sangja networking on; `none` (or no key) leaves a new netns with only `lo`.
pub const KEY_MODE: &str = "run.sangja.network";
/// Bridge (and network) name; default [`DEFAULT_BRIDGE`].
pub const KEY_BRIDGE: &str = "run.sangja.network.bridge";
/// IPv4 subnet in CIDR form; used when the network is first created, checked against it after.
pub const KEY_SUBNET: &str = "run.sangja.network.subnet";
/// Static IPv4 address for the container; refused if taken or outside the subnet.
pub const KEY_IP: &str = "run.sangja.network.ip";
/// Published ports: comma-separated `[HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]`.
pub const KEY_PORTS: &str = "run.sangja.network.ports";
/// Nameservers for the generated resolv.conf: comma-separated IP addresses.
pub const KEY_DNS: &str = "run.sangja.network.dns";
/// Name put in the network's hosts file besides the id; default the spec's `hostname`.
pub const KEY_HOSTNAME: &str = "run.sangja.network.hostname";
/// `true` (default) or `false`: masquerade traffic leaving the subnet (needs `nft`).
pub const KEY_NAT: &str = "run.sangja.network.nat";

/// The bridge (and network) used when none is named.
pub const DEFAULT_BRIDGE: &str = "sangja0";
/// Subnet of the default network. Chosen outside Docker's default pools (172.17.0.0/16 through
/// 172.31.0.0/16, 192.168.0.0/16), podman's (10.88.0.0/16 for `podman`, 10.89.0.0/16 and
/// 10.90.0.0/15 for created networks), Kubernetes' usual ranges (10.96.0.0/12 services,
/// 10.244.0.0/16 flannel, 10.42.0.0/15 k3s) and libvirt's 192.168.122.0/24. Other networks
/// created without a subnet take the next free 10.123.N.0/24.
pub const DEFAULT_SUBNET: Subnet = Subnet {
    network: Ipv4Addr::new(10, 123, 0, 0),
    prefix: 24,
};

/// An IPv4 subnet. `network` has no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }
    /// The first host address, given to the bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.network) & m == u32::from(other.network) & m
    }
    /// Addresses a container may get: all but the network, gateway and broadcast addresses.
    pub fn assignable(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network && ip != self.gateway() && ip != self.broadcast()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not in CIDR form (like 10.123.0.0/24)"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("prefix /{prefix} is outside /8../30"));
        }
        let net = Subnet {
            network: addr,
            prefix,
        };
        if u32::from(addr) & !net.mask() != 0 {
            return Err(format!("{s} has host bits set"));
        }
        Ok(net)
    }
}

impl TryFrom<String> for Subnet {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port: connections to `host_ip` (any local address when `None`) on `host_port`
/// are forwarded to the container's `container_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port, self.container_port, self.proto
        )
    }
}

fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a port number (1-65535)")),
        Ok(p) => Ok(p),
    }
}

impl FromStr for PortMapping {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (spec, proto) = match s.rsplit_once('/') {
            Some((spec, "tcp")) => (spec, Proto::Tcp),
            Some((spec, "udp")) => (spec, Proto::Udp),
            Some((_, p)) => return Err(format!("{s:?}: protocol {p:?} is not tcp or udp")),
            None => (s, Proto::Tcp),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [h, c] => (None, *h, *c),
            [ip, h, c] => {
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| format!("{s:?}: {ip:?} is not an IPv4 address"))?;
                let ip = if ip.is_unspecified() { None } else { Some(ip) };
                (ip, *h, *c)
            }
            _ => {
                return Err(format!(
                    "{s:?} is not [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]"
                ))
            }
        };
        Ok(PortMapping {
            host_ip,
            host_port: port(host_port).map_err(|e| format!("{s:?}: {e}"))?,
            container_port: port(container_port).map_err(|e| format!("{s:?}: {e}"))?,
            proto,
        })
    }
}

/// What one container asks of sangja networking (bridge mode), parsed from annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Container id.
    pub id: String,
    /// Network name, which is also the bridge's name.
    pub bridge: String,
    /// Subnet asked for; `None` takes the network's (or a default when the network is new).
    pub subnet: Option<Subnet>,
    /// Static address asked for.
    pub ip: Option<Ipv4Addr>,
    pub ports: Vec<PortMapping>,
    /// Nameservers; empty takes the host's.
    pub dns: Vec<IpAddr>,
    /// Extra name in the hosts file.
    pub hostname: Option<String>,
    /// Masquerade outbound traffic.
    pub nat: bool,
}

fn field(key: &str) -> String {
    format!("annotations.{key}")
}

/// Interface names the kernel takes: 1-15 bytes, no '/', ':' or whitespace, not "." or "..".
pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!("{name:?} must be 1 to 15 bytes long"));
    }
    if name == "." || name == ".." {
        return Err(format!("{name:?} is not an interface name"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "{name:?} may only hold letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

fn check_hostname(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid host name"))
    }
}

fn network_namespace(spec: &Spec) -> Option<&LinuxNamespace> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_ref()?
        .iter()
        .find(|ns| ns.typ() == LinuxNamespaceType::Network)
}

impl Request {
    /// Parse the annotations of `spec`. `Ok(None)` when sangja networking is not asked for
    /// (no `run.sangja.network` key, or `none`). Errors are `Error::InvalidConfig` naming the
    /// annotation key.
    pub fn from_spec(spec: &Spec, id: &str) -> Result<Option<Request>, Error> {
        let empty = HashMap::new();
        let ann = spec.annotations().as_ref().unwrap_or(&empty);
        let get = |k: &str| ann.get(k).map(|v| v.trim());
        let mode = get(KEY_MODE);
        match mode {
            None | Some("none") => {
                if let Some(k) = ann
                    .keys()
                    .filter(|k| k.starts_with("run.sangja.network."))
                    .min()
                {
                    return Err(Error::invalid(field(k), format!("needs {KEY_MODE}=bridge")));
                }
                return Ok(None);
            }
            Some("bridge") => {}
            Some(other) => {
                return Err(Error::invalid(
                    field(KEY_MODE),
                    format!("{other:?} is not \"bridge\" or \"none\""),
                ))
            }
        }
        if let Some(k) = ann
            .keys()
            .filter(|k| k.starts_with("run.sangja.network."))
            .find(|k| {
                ![
                    KEY_BRIDGE,
                    KEY_SUBNET,
                    KEY_IP,
                    KEY_PORTS,
                    KEY_DNS,
                    KEY_HOSTNAME,
                    KEY_NAT,
                ]
                .contains(&k.as_str())
            })
        {
            return Err(Error::invalid(field(k), "unknown sangja network key"));
        }
        match network_namespace(spec) {
            None => {
                return Err(Error::invalid(
                    field(KEY_MODE),
                    "bridge networking needs a new network namespace, but linux.namespaces has no network entry",
                ))
            }
            Some(ns) => {
                if let Some(p) = ns.path() {
                    return Err(Error::invalid(
                        field(KEY_MODE),
                        format!(
                            "bridge networking needs a new network namespace, but the config joins {}",
                            p.display()
                        ),
                    ));
                }
            }
        }
        let bridge = get(KEY_BRIDGE).unwrap_or(DEFAULT_BRIDGE).to_string();
        check_ifname(&bridge).map_err(|e| Error::invalid(field(KEY_BRIDGE), e))?;
        let subnet = get(KEY_SUBNET)
            .map(|s| s.parse::<Subnet>())
            .transpose()
            .map_err(|e| Error::invalid(field(KEY_SUBNET), e))?;
        let ip = get(KEY_IP)
            .map(|s| {
                s.parse::<Ipv4Addr>()
                    .map_err(|_| format!("{s:?} is not an IPv4 address"))
            })
            .transpose()
            .map_err(|e| Error::invalid(field(KEY_IP), e))?;
        if let (Some(ip), Some(net)) = (ip, subnet) {
            if !net.assignable(ip) {
                return Err(Error::invalid(
                    field(KEY_IP),
                    format!("{ip} is not an assignable address of {net} (network, gateway and broadcast are reserved)"),
                ));
            }
        }
        let mut ports: Vec<PortMapping> = Vec::new();
        for item in get(KEY_PORTS)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let p: PortMapping = item
                .parse()
                .map_err(|e| Error::invalid(field(KEY_PORTS), e))?;
            if let Some(dup) = ports.iter().find(|q| {
                q.proto == p.proto
                    && q.host_port == p.host_port
                    && (q.host_ip.is_none() || p.host_ip.is_none() || q.host_ip == p.host_ip)
            }) {
                return Err(Error::invalid(
                    field(KEY_PORTS),
                    format!("{p} and {dup} publish the same host port"),
                ));
            }
            ports.push(p);
        }
        let mut dns = Vec::new();
        for item in get(KEY_DNS)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            dns.push(item.parse::<IpAddr>().map_err(|_| {
                Error::invalid(field(KEY_DNS), format!("{item:?} is not an IP address"))
            })?);
        }
        let hostname = match get(KEY_HOSTNAME) {
            Some(h) => {
                check_hostname(h).map_err(|e| Error::invalid(field(KEY_HOSTNAME), e))?;
                Some(h.to_string())
            }
            None => spec
                .hostname()
                .as_deref()
                .filter(|h| !h.is_empty() && check_hostname(h).is_ok())
                .map(str::to_string),
        };
        let nat = match get(KEY_NAT) {
            None | Some("true") => true,
            Some("false") => false,
            Some(v) => {
                return Err(Error::invalid(
                    field(KEY_NAT),
                    format!("{v:?} is not true or false"),
                ))
            }
        };
        Ok(Some(Request {
            id: id.to_string(),
            bridge,
            subnet,
            ip,
            ports,
            dns,
            hostname,
            nat,
        }))
    }
}

/// Check the sangja network annotations of `spec` before any side effect.
pub fn validate(spec: &Spec) -> Result<(), Error> {
    Request::from_spec(spec, "validate").map(|_| ())
}

/// `--network` of `sangja run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Share the host's network namespace.
    Host,
    /// A new network namespace with only `lo`.
    None,
    /// sangja networking on the named bridge (default [`DEFAULT_BRIDGE`]).
    Bridge(Option<String>),
}

impl FromStr for NetworkMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            "bridge" => Ok(NetworkMode::Bridge(None)),
            _ => match s.strip_prefix("bridge=") {
                Some(name) => {
                    check_ifname(name)?;
                    Ok(NetworkMode::Bridge(Some(name.to_string())))
                }
                None => Err(format!("{s:?} is not host, none, bridge or bridge=NAME")),
            },
        }
    }
}

/// The networking flags of `sangja run`, as parsed by the CLI (strings are checked here).
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    /// `--network`; `None` leaves the config's namespaces as they are.
    pub network: Option<NetworkMode>,
    /// `-p/--publish`, each `[HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]`.
    pub publish: Vec<String>,
    pub ip: Option<String>,
    pub subnet: Option<String>,
    /// `--dns`, each an IP address.
    pub dns: Vec<String>,
}

/// Edit the in-memory `spec` of one `sangja run` to carry the flags: `host` removes the network
/// namespace entry, `none` and `bridge` make sure there is a new one (no `path`), `bridge` and
/// the other flags set the `run.sangja.network*` annotations. `--publish/--ip/--subnet/--dns`
/// without `--network` imply `--network bridge`. The result is checked with [`validate`].
pub fn apply_run_flags(spec: &mut Spec, flags: &RunFlags) -> Result<(), Error> {
    let extra = !flags.publish.is_empty()
        || flags.ip.is_some()
        || flags.subnet.is_some()
        || !flags.dns.is_empty();
    let mode = match (&flags.network, extra) {
        (None, false) => return Ok(()),
        (None, true) => NetworkMode::Bridge(None),
        (Some(NetworkMode::Bridge(b)), _) => NetworkMode::Bridge(b.clone()),
        (Some(m), true) => {
            return Err(Error::invalid(
                "--network",
                format!(
                    "{} does not take --publish, --ip, --subnet or --dns (only bridge does)",
                    match m {
                        NetworkMode::Host => "host",
                        _ => "none",
                    }
                ),
            ))
        }
        (Some(m), false) => m.clone(),
    };
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::Network);
    if mode != NetworkMode::Host {
        let mut ns = LinuxNamespace::default();
        ns.set_typ(LinuxNamespaceType::Network);
        namespaces.push(ns);
    }
    linux.set_namespaces(Some(namespaces));
    spec.set_linux(Some(linux));

    let mut ann = spec.annotations().clone().unwrap_or_default();
    ann.retain(|k, _| k != KEY_MODE && !k.starts_with("run.sangja.network."));
    if let NetworkMode::Bridge(name) = &mode {
        ann.insert(KEY_MODE.into(), "bridge".into());
        if let Some(name) = name {
            ann.insert(KEY_BRIDGE.into(), name.clone());
        }
        if !flags.publish.is_empty() {
            ann.insert(KEY_PORTS.into(), flags.publish.join(","));
        }
        if let Some(ip) = &flags.ip {
            ann.insert(KEY_IP.into(), ip.clone());
        }
        if let Some(s) = &flags.subnet {
            ann.insert(KEY_SUBNET.into(), s.clone());
        }
        if !flags.dns.is_empty() {
            ann.insert(KEY_DNS.into(), flags.dns.join(","));
        }
    }
    spec.set_annotations(Some(ann));
    validate(spec)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
