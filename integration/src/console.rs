//! A `--console-socket` listener: accepts one connection and receives the pty
//! master the runtime sends with SCM_RIGHTS, then reads what the container
//! writes to its terminal.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct ConsoleSocket {
    path: PathBuf,
    accept: Option<JoinHandle<std::io::Result<OwnedFd>>>,
}

impl ConsoleSocket {
    /// Listen on `path` (which must not exist) in a background thread.
    pub fn new(path: &Path) -> Self {
        let listener =
            UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        let accept = std::thread::spawn(move || {
            let (stream, _) = listener.accept()?;
            recv_fd(stream.as_raw_fd())
        });
        ConsoleSocket {
            path: path.to_path_buf(),
            accept: Some(accept),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty master the runtime sent; panics if none arrives within `timeout`.
    #[track_caller]
    pub fn master(&mut self, timeout: Duration) -> File {
        let h = self.accept.take().expect("master() called twice");
        let deadline = std::time::Instant::now() + timeout;
        while !h.is_finished() {
            if std::time::Instant::now() >= deadline {
                self.accept = Some(h);
                panic!(
                    "no pty master received on {} within {timeout:?}",
                    self.path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let fd = h
            .join()
            .expect("accept thread")
            .unwrap_or_else(|e| panic!("receiving the pty master: {e}"));
        File::from(fd)
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        if let Some(h) = self.accept.take() {
            // Unblock a pending accept, then reap the thread.
            let _ = UnixStream::connect(&self.path);
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Read from a pty master until the text contains `until`, EOF/EIO, or `timeout`.
pub fn read_until(master: File, until: &str, timeout: Duration) -> String {
    let (tx, rx) = mpsc::channel();
    let until = until.to_string();
    std::thread::spawn(move || {
        let mut master = master;
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                    let _ = tx.send(text.clone());
                    if text.contains(&until) {
                        break;
                    }
                }
            }
        }
    });
    let deadline = std::time::Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(t) => last = t,
            Err(_) => return last,
        }
    }
}

/// Receive one descriptor sent with SCM_RIGHTS on a connected unix socket.
fn recv_fd(sock: RawFd) -> std::io::Result<OwnedFd> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one cmsghdr carrying a few fds, 8-byte aligned.
    let mut cbuf = [0u64; 16];
    // SAFETY: msghdr is plain data; all-zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: msg points at live buffers sized as declared above.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel just filled.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(std::io::Error::other(
        "message carried no SCM_RIGHTS descriptor",
    ))
}
