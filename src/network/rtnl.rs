//! [`Links`] over a synchronous `NETLINK_ROUTE` socket (our own `netlink` module for the
//! messages and the socket). One request at a time, each acknowledged before the next.
//!
//! A socket works in the network namespace it was created in. To configure the container's end
//! we open one there: a short-lived thread `setns`es into `/proc/<pid>/ns/net` (a network
//! namespace switch is per thread, and the thread is joined before we return, so no thread is
//! left running around a later fork), creates the socket and hands it back.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, CloneFlags};

use super::link::{LinkFacts, Links};
use super::netlink::{parse, Message, Socket, NLM_F_CREATE, NLM_F_EXCL, VETH_INFO_PEER};

/// `sizeof(struct ifinfomsg)`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;

/// A route netlink socket bound to one network namespace.
pub struct Rtnl {
    sock: Socket,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Rtnl> {
        Ok(Rtnl {
            sock: Socket::open()?,
        })
    }

    /// A socket in the network namespace `netns` (an open `/proc/<pid>/ns/net`).
    pub fn open_in(netns: &File) -> Result<Rtnl> {
        std::thread::scope(|s| {
            s.spawn(|| -> Result<Rtnl> {
                setns(netns, CloneFlags::CLONE_NEWNET)
                    .context("setns into the container's network namespace")?;
                Rtnl::open()
            })
            .join()
            .map_err(|_| anyhow!("netlink helper thread panicked"))?
        })
    }
}

/// `struct ifinfomsg` (`linux/rtnetlink.h`), family `AF_UNSPEC`, type 0.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut h = [0u8; IFINFOMSG_LEN];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// `struct ifaddrmsg` (`linux/if_addr.h`) for an IPv4 address, no flags, scope universe.
fn ifaddrmsg(prefix: u8, index: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = libc::AF_INET as u8;
    h[1] = prefix;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// `struct rtmsg` (`linux/rtnetlink.h`) for an IPv4 default route (no destination bits) in the
/// main table, protocol boot, scope universe, unicast.
fn rtmsg_default_v4() -> [u8; 12] {
    [
        libc::AF_INET as u8,
        0, // rtm_dst_len
        0, // rtm_src_len
        0, // rtm_tos
        libc::RT_TABLE_MAIN,
        libc::RTPROT_BOOT,
        libc::RT_SCOPE_UNIVERSE,
        libc::RTN_UNICAST,
        0,
        0,
        0,
        0, // rtm_flags
    ]
}

/// An `RTM_*LINK` request naming the link by `IFLA_IFNAME`.
fn by_name(kind: u16, flags: u16, name: &str) -> Message {
    let mut m = Message::new(kind, flags);
    m.fixed(&ifinfomsg(0, 0, 0))
        .attr_str(libc::IFLA_IFNAME, name);
    m
}

/// Index, `IFLA_MTU` (1500 when absent) and `IFLA_INFO_KIND` of an `RTM_NEWLINK` payload.
fn link_facts(payload: &[u8]) -> io::Result<LinkFacts> {
    let (header, attrs) = parse::split_fixed(payload, IFINFOMSG_LEN)?;
    let mut facts = LinkFacts {
        index: parse::u32_value(&header[4..8])?,
        mtu: 1500,
        kind: None,
    };
    for attr in parse::attrs(attrs) {
        match attr? {
            (libc::IFLA_MTU, v) => facts.mtu = parse::u32_value(v)?,
            (libc::IFLA_LINKINFO, v) => {
                for info in parse::attrs(v) {
                    if let (libc::IFLA_INFO_KIND, k) = info? {
                        facts.kind = Some(parse::str_value(k)?.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl Links for Rtnl {
    fn link(&mut self, name: &str) -> Result<Option<LinkFacts>> {
        let answers = match self.sock.request(&mut by_name(libc::RTM_GETLINK, 0, name)) {
            Ok(a) => a,
            Err(e) if errno(&e) == Some(libc::ENODEV) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("look up link {name}")),
        };
        match answers.iter().find(|a| a.kind == libc::RTM_NEWLINK) {
            Some(a) => link_facts(&a.payload)
                .map(Some)
                .with_context(|| format!("look up link {name}")),
            None => Ok(None),
        }
    }

    fn add_bridge(&mut self, name: &str) -> Result<bool> {
        let mut m = by_name(libc::RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
        m.nested(libc::IFLA_LINKINFO, |info| {
            info.attr_str(libc::IFLA_INFO_KIND, "bridge");
        });
        match self.sock.request(&mut m) {
            Ok(_) => Ok(true),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        let broadcast = Ipv4Addr::from(u32::from(ip) | bits);
        let mut m = Message::new(libc::RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        m.fixed(&ifaddrmsg(prefix, index))
            .attr(libc::IFA_LOCAL, &ip.octets())
            .attr(libc::IFA_ADDRESS, &ip.octets())
            .attr(libc::IFA_BROADCAST, &broadcast.octets());
        match self.sock.request(&mut m) {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn set_up(&mut self, index: u32) -> Result<()> {
        let up = libc::IFF_UP as u32;
        let mut m = Message::new(libc::RTM_SETLINK, 0);
        m.fixed(&ifinfomsg(index, up, up));
        self.sock.request(&mut m)?;
        Ok(())
    }

    fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        netns: BorrowedFd<'_>,
        mtu: u32,
        master: u32,
    ) -> Result<()> {
        let mut m = by_name(libc::RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, host);
        m.attr_u32(libc::IFLA_MTU, mtu)
            .attr_u32(libc::IFLA_MASTER, master)
            .nested(libc::IFLA_LINKINFO, |info| {
                info.attr_str(libc::IFLA_INFO_KIND, "veth")
                    .nested(libc::IFLA_INFO_DATA, |data| {
                        data.nested(VETH_INFO_PEER, |p| {
                            p.fixed(&ifinfomsg(0, 0, 0))
                                .attr_str(libc::IFLA_IFNAME, peer)
                                .attr_u32(libc::IFLA_MTU, mtu)
                                .attr(libc::IFLA_NET_NS_FD, &netns.as_raw_fd().to_ne_bytes());
                        });
                    });
            });
        match self.sock.request(&mut m) {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => {
                bail!("a link named {host} (or {peer} in the container) already exists")
            }
            Err(e) => Err(e.into()),
        }
    }

    fn delete(&mut self, name: &str) -> Result<bool> {
        match self.sock.request(&mut by_name(libc::RTM_DELLINK, 0, name)) {
            Ok(_) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("delete link {name}")),
        }
    }

    fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()> {
        let mut m = Message::new(libc::RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        m.fixed(&rtmsg_default_v4())
            .attr(libc::RTA_GATEWAY, &gateway.octets())
            .attr_u32(libc::RTA_OIF, index);
        self.sock.request(&mut m)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "rtnl_tests.rs"]
mod tests;
