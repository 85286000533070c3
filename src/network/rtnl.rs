//! [`Links`] over a synchronous `NETLINK_ROUTE` socket (netlink-packet-route for the messages,
//! netlink-sys for the socket). One request at a time, each acknowledged before the next.
//!
//! A socket works in the network namespace it was created in. To configure the container's end
//! we open one there: a short-lived thread `setns`es into `/proc/<pid>/ns/net` (a network
//! namespace switch is per thread, and the thread is joined before we return, so no thread is
//! left running around a later fork), creates the socket and hands it back.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::{anyhow, bail, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sched::{setns, CloneFlags};

use super::link::{LinkFacts, Links};

/// A route netlink socket bound to one network namespace.
pub struct Rtnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE).context("open netlink route socket")?;
        sock.bind_auto().context("bind netlink route socket")?;
        sock.connect(&SocketAddr::new(0, 0))
            .context("connect netlink route socket")?;
        // Error messages carry the kernel's extended ack text when asked for; not needed.
        Ok(Rtnl {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
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

    /// Send one request and wait for its ACK; return the answers that came before it.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        nl.finalize();
        let mut out = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let mut answers = Vec::new();
        loop {
            let n = {
                let mut b = &mut self.buf[..];
                self.sock.recv(&mut b, 0)?
            };
            let mut off = 0;
            while off < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = m.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "zero-length netlink message",
                    ));
                }
                off += (len + 3) & !3;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(_) => Err(e.to_io()),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                    _ => {}
                }
            }
        }
    }

    fn set_link(&mut self, index: u32, attrs: Vec<LinkAttribute>, up: bool) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        if up {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        }
        m.attributes = attrs;
        self.request(RouteNetlinkMessage::SetLink(m), 0).map(|_| ())
    }
}

fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl Links for Rtnl {
    fn link(&mut self, name: &str) -> Result<Option<LinkFacts>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let answers = match self.request(RouteNetlinkMessage::GetLink(m), 0) {
            Ok(a) => a,
            Err(e) if errno(&e) == Some(libc::ENODEV) => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("look up link {name}")),
        };
        for a in answers {
            if let RouteNetlinkMessage::NewLink(l) = a {
                let mut facts = LinkFacts {
                    index: l.header.index,
                    mtu: 1500,
                    kind: None,
                };
                for attr in l.attributes {
                    match attr {
                        LinkAttribute::Mtu(m) => facts.mtu = m,
                        LinkAttribute::LinkInfo(infos) => {
                            for i in infos {
                                if let LinkInfo::Kind(k) = i {
                                    facts.kind = Some(k.to_string());
                                }
                            }
                        }
                        _ => {}
                    }
                }
                return Ok(Some(facts));
            }
        }
        Ok(None)
    }

    fn add_bridge(&mut self, name: &str) -> Result<bool> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        match self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL) {
            Ok(_) => Ok(true),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
        let bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        m.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                u32::from(ip) | bits,
            )));
        match self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn set_up(&mut self, index: u32) -> Result<()> {
        Ok(self.set_link(index, vec![], true)?)
    }

    fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        netns: BorrowedFd<'_>,
        mtu: u32,
        master: u32,
    ) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes.push(LinkAttribute::Mtu(mtu));
        p.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::Controller(master));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        match self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL) {
            Ok(_) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => {
                bail!("a link named {host} (or {peer} in the container) already exists")
            }
            Err(e) => Err(e.into()),
        }
    }

    fn delete(&mut self, name: &str) -> Result<bool> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::DelLink(m), 0) {
            Ok(_) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("delete link {name}")),
        }
    }

    fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()> {
        let mut m = RouteMessage::default();
        m.header = RouteHeader {
            address_family: AddressFamily::Inet,
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: RouteScope::Universe,
            kind: RouteType::Unicast,
            ..RouteHeader::default()
        };
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        m.attributes.push(RouteAttribute::Oif(index));
        self.request(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)?;
        Ok(())
    }
}
