//! The files sangja bind-mounts into a networked container: the network's shared hosts file
//! (rewritten in place, so every container's bind mount of it sees changes) and a per-container
//! resolv.conf.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};

use super::ipam::Lease;

/// The hosts file of a network: loopback names, then `address id [hostname]` per lease.
pub fn render_hosts(network: &str, leases: &[Lease]) -> String {
    let mut out = format!(
        "# written by sangja for network {network}; changes are overwritten\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n"
    );
    let mut sorted: Vec<&Lease> = leases.iter().collect();
    sorted.sort_by_key(|l| l.address);
    for l in sorted {
        out.push_str(&format!("{}\t{}", l.address, l.id));
        if let Some(h) = l.hostname.as_deref().filter(|h| *h != l.id) {
            out.push('\t');
            out.push_str(h);
        }
        out.push('\n');
    }
    out
}

/// Replace the contents of `path` without replacing the file (same inode: bind mounts of it
/// stay valid). Callers hold the network lock.
pub fn rewrite_in_place(path: &Path, contents: &str) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.set_len(contents.len() as u64))
        .and_then(|_| f.sync_data())
        .with_context(|| format!("write {}", path.display()))
}

fn is_loopback(ns: &str) -> bool {
    ns.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// resolv.conf for a container: `dns` when given; else the host's file (`host_resolv`) without
/// loopback nameservers, which do not answer inside the container's network namespace. When
/// that leaves none (a systemd-resolved stub), `fallback` (systemd-resolved's upstream list) is
/// used the same way. Search and options lines are kept.
pub fn render_resolv(dns: &[IpAddr], host_resolv: &Path, fallback: &Path) -> String {
    if !dns.is_empty() {
        let mut out = String::from("# written by sangja\n");
        for ns in dns {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        return out;
    }
    let filter = |text: &str| -> (String, usize) {
        let mut out = String::new();
        let mut count = 0;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some("nameserver") {
                match words.next() {
                    Some(ns) if !is_loopback(ns) => count += 1,
                    _ => continue,
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        (out, count)
    };
    let host = fs::read_to_string(host_resolv).unwrap_or_default();
    let (out, count) = filter(&host);
    if count == 0 {
        if let Ok(up) = fs::read_to_string(fallback) {
            let (out2, count2) = filter(&up);
            if count2 > 0 {
                return format!("# written by sangja from {}\n{out2}", fallback.display());
            }
        }
    }
    format!("# written by sangja from {}\n{out}", host_resolv.display())
}

/// Remove a file; a missing one is fine.
pub fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::os::unix::fs::MetadataExt;

    fn lease(id: &str, last: u8, host: Option<&str>) -> Lease {
        Lease {
            id: id.into(),
            address: Ipv4Addr::new(10, 123, 0, last),
            hostname: host.map(str::to_string),
            veth: String::new(),
            ports: vec![],
            nat: true,
            created: 0,
        }
    }

    #[test]
    fn hosts_lists_every_lease_by_address() {
        let text = render_hosts(
            "sangja0",
            &[lease("web", 10, Some("www")), lease("db", 3, Some("db"))],
        );
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            vec![
                "127.0.0.1\tlocalhost",
                "::1\tlocalhost ip6-localhost ip6-loopback",
                "10.123.0.3\tdb",
                "10.123.0.10\tweb\twww",
            ]
        );
    }

    #[test]
    fn rewrite_keeps_the_inode_and_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts");
        rewrite_in_place(&p, "a long first version\n").unwrap();
        let ino = fs::metadata(&p).unwrap().ino();
        rewrite_in_place(&p, "short\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "short\n");
        assert_eq!(fs::metadata(&p).unwrap().ino(), ino);
    }

    #[test]
    fn resolv_from_dns_or_host_without_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("resolv.conf");
        let up = dir.path().join("upstream.conf");
        let dns: Vec<IpAddr> = vec!["192.0.2.53".parse().unwrap()];
        assert!(render_resolv(&dns, &host, &up).ends_with("nameserver 192.0.2.53\n"));

        fs::write(
            &host,
            "nameserver 127.0.0.11\nnameserver 192.0.2.1\nsearch example.org\n",
        )
        .unwrap();
        let r = render_resolv(&[], &host, &up);
        assert!(!r.contains("127.0.0.11"), "{r}");
        assert!(
            r.contains("nameserver 192.0.2.1\nsearch example.org\n"),
            "{r}"
        );

        fs::write(&host, "nameserver 127.0.0.53\noptions edns0\n").unwrap();
        fs::write(&up, "nameserver 198.51.100.7\n").unwrap();
        let r = render_resolv(&[], &host, &up);
        assert!(r.contains("nameserver 198.51.100.7"), "{r}");
        assert!(!r.contains("127.0.0.53"), "{r}");
    }
}
