//! The parent↔init channel: one `SOCK_SEQPACKET` socketpair, one JSON-encoded `Message` per
//! datagram. Message boundaries are kept by the socket, and EOF (peer gone) is a clean signal
//! that init died without a word.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{bail, Context};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Everything parent and init say to each other (table in `process/mod.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// init → parent: my user namespace exists, write my uid/gid maps.
    MapsRequest,
    /// parent → init: maps written.
    MapsWritten,
    /// intermediate → parent: the real init (second fork) has this pid, in the parent's view.
    InitPid(i32),
    /// init → parent: a log record to forward to the runtime's log.
    Log { level: String, msg: String },
    /// init → parent: set up and waiting at the start gate.
    Ready,
    /// init → parent: a step failed; `error` is the whole cause chain.
    Failed { stage: String, error: String },
}

/// Largest datagram we accept; an init error chain is far shorter.
const MAX_MESSAGE: usize = 64 * 1024;

/// One end of the channel.
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> anyhow::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("socketpair for the init channel")?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, msg: &Message) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(msg).context("encode channel message")?;
        loop {
            match send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("send on the init channel"),
            }
        }
    }

    /// The next message, or `None` when the peer has closed its end.
    pub fn recv(&self) -> anyhow::Result<Option<Message>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_TRUNC) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("receive on the init channel"),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        if n > buf.len() {
            bail!("init channel message of {n} bytes is too long");
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .context("decode init channel message")
    }

    /// Receive and insist on one particular message.
    pub fn expect(&self, want: &Message) -> anyhow::Result<()> {
        match self.recv()? {
            Some(ref got) if got == want => Ok(()),
            Some(got) => bail!("init channel: expected {want:?}, got {got:?}"),
            None => bail!("init channel: expected {want:?}, the other side is gone"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_eof_is_none() {
        let (a, b) = Channel::pair().unwrap();
        let m = Message::Failed {
            stage: "rootfs".into(),
            error: "mount /proc: permission denied".into(),
        };
        a.send(&m).unwrap();
        a.send(&Message::Ready).unwrap();
        assert_eq!(b.recv().unwrap(), Some(m));
        b.expect(&Message::Ready).unwrap();
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn unexpected_message_names_both() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::MapsRequest).unwrap();
        let err = b.expect(&Message::Ready).unwrap_err().to_string();
        assert!(
            err.contains("Ready") && err.contains("MapsRequest"),
            "{err}"
        );
    }
}
