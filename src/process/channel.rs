//! The parent↔init channel: one `SOCK_SEQPACKET` socketpair, one JSON-encoded `Message` per
//! datagram. Message boundaries are kept by the socket, and EOF (peer gone) is a clean signal
//! that init died without a word.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::{bail, Context};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::sys::socket::{peek_len, recv_with_fds, send_with_fds};

/// Everything parent and init say to each other (table in `process/mod.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// init → parent: my user namespace exists, write my uid/gid maps.
    MapsRequest,
    /// parent → init: maps written.
    MapsWritten,
    /// intermediate → parent: the real init (second fork) has this pid, in the parent's view.
    InitPid(i32),
    /// parent → real init: your pid and start time are noted, go on. Until then the real init
    /// waits, so it cannot exit and be reaped by a subreaper (a shim) before the parent has
    /// read its start time.
    PidNoted,
    /// init → parent: a log record to forward to the runtime's log.
    Log { level: String, msg: String },
    /// init → parent: the pty master of `process.terminal` is attached; `name` is the slave's
    /// path in the container.
    Console { name: String },
    /// init → parent: namespaces and mounts are made, pivot_root is next: run the
    /// prestart and createRuntime hooks now.
    HooksPoint,
    /// parent → init: hooks done; `state` is the container state JSON for init's own hooks.
    HooksDone { state: String },
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
        self.send_with_fd(msg, None)
    }

    /// Send a message with an fd attached (the pty master of `Console`).
    pub fn send_with_fd(&self, msg: &Message, fd: Option<BorrowedFd<'_>>) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(msg).context("encode channel message")?;
        let fds: Vec<BorrowedFd> = fd.into_iter().collect();
        send_with_fds(self.fd.as_fd(), &bytes, &fds).context("send on the init channel")
    }

    /// The next message, or `None` when the peer has closed its end.
    pub fn recv(&self) -> anyhow::Result<Option<Message>> {
        Ok(self.recv_with_fd()?.map(|(m, _)| m))
    }

    /// The next message and the fd that came with it, if any.
    pub fn recv_with_fd(&self) -> anyhow::Result<Option<(Message, Option<OwnedFd>)>> {
        // Sized by a peek: a 64 KiB buffer zeroed for every message cost a memset and, the first
        // time, 16 page faults, for messages of a few bytes.
        let len = peek_len(self.fd.as_fd()).context("receive on the init channel")?;
        let mut buf = vec![0u8; len.clamp(1, MAX_MESSAGE)];
        let (n, truncated, fds) =
            recv_with_fds(self.fd.as_fd(), &mut buf).context("receive on the init channel")?;
        if n == 0 && fds.is_empty() {
            return Ok(None);
        }
        if truncated {
            bail!("init channel message longer than {MAX_MESSAGE} bytes");
        }
        let msg = serde_json::from_slice(&buf[..n]).context("decode init channel message")?;
        Ok(Some((msg, fds.into_iter().next())))
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
    use std::os::fd::AsRawFd;

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
    fn an_fd_travels_with_its_message() {
        let (a, b) = Channel::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let m = Message::Console {
            name: "/dev/pts/0".into(),
        };
        a.send_with_fd(&m, Some(w.as_fd())).unwrap();
        drop(w);
        let (got, fd) = b.recv_with_fd().unwrap().unwrap();
        assert_eq!(got, m);
        let mut f = std::fs::File::from(fd.unwrap());
        std::io::Write::write_all(&mut f, b"x").unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut byte).unwrap(), 1);
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
