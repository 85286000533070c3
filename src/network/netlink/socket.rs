//! A synchronous `NETLINK_ROUTE` socket: one request at a time, each read up to its ACK.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::socket::{
    bind, connect, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};

use super::parse::{self, Outcome};
use super::Message;

/// Replies to one request are read into this; a single link's `RTM_NEWLINK` is a few KB.
const RECV_BUF: usize = 64 * 1024;

/// An `RTM_*` message that answered a request (e.g. the `RTM_NEWLINK` for an `RTM_GETLINK`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub kind: u16,
    pub payload: Vec<u8>,
}

pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    /// A socket in the calling thread's network namespace, talking to the kernel.
    pub fn open() -> Result<Socket> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .context("open netlink route socket")?;
        // Port id 0: the kernel picks a free one. No multicast groups. No NETLINK_EXT_ACK: the
        // kernel's error text is not needed, the errno is.
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).context("bind netlink route socket")?;
        connect(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).context("connect netlink route socket")?;
        Ok(Socket {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// Send `msg` and read replies until its ACK (or `NLMSG_DONE`); return the answers that came
    /// before. Replies to other sequence numbers (a late answer to an earlier request) are
    /// skipped. The kernel's refusal is the `io::Error` of its errno.
    pub fn request(&mut self, msg: &mut Message) -> io::Result<Vec<Answer>> {
        self.seq = self.seq.wrapping_add(1);
        let out = msg.finish(self.seq)?;
        let sent = retry(|| send(self.fd.as_raw_fd(), out, MsgFlags::empty()))?;
        if sent != out.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("netlink: sent {sent} of {} bytes", out.len()),
            ));
        }
        let mut answers = Vec::new();
        loop {
            // MSG_TRUNC: the datagram's real length, so one cut short is noticed.
            let n = retry(|| recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::MSG_TRUNC))?;
            let Some(datagram) = self.buf.get(..n) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("netlink: a {n}-byte reply exceeds the {RECV_BUF}-byte buffer"),
                ));
            };
            for m in parse::messages(datagram) {
                let m = m?;
                if m.seq != self.seq {
                    continue;
                }
                match parse::outcome(&m)? {
                    Outcome::Ack | Outcome::Done => return Ok(answers),
                    Outcome::Answer => answers.push(Answer {
                        kind: m.kind,
                        payload: m.payload.to_vec(),
                    }),
                    Outcome::Other => {}
                }
            }
        }
    }
}

fn retry<T>(mut call: impl FnMut() -> nix::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}
