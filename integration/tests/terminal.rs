//! Terminals: a foreground `run`/`exec -t` relaying through a real pty (driven
//! by a small Python `pty` script), the console socket receiver (one fd, the
//! pty name as payload, both directions), /dev/console, and refusals.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

use sangja_integration::{assert_clean, setup, skip, Runtime};
use serde_json::Value;

/// Runs argv on a fresh pty (its controlling terminal), plays a script of
/// (send, expect) steps, resizes the window once, ends with Ctrl-D and prints
/// a JSON report: transcript, exit code, and the termios of the pty after exit.
const DRIVER: &str = r#"
import os, sys, json, time, termios, fcntl, struct, select, signal, tty
steps = json.loads(sys.argv[1]); argv = sys.argv[2:]
m, s = os.openpty()
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
before = termios.tcgetattr(s)
pid = os.fork()
if pid == 0:
    os.setsid(); fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2): os.dup2(s, fd)
    os.close(m); os.execv(argv[0], argv)
buf = b""; pos = 0; report = {"ok": True}
def read_until(pat, t=10):
    # expect semantics: only output after the previous match counts
    global buf, pos
    end = time.time() + t
    while pat.encode() not in buf[pos:]:
        left = end - time.time()
        if left <= 0: return False
        r, _, _ = select.select([m], [], [], left)
        if r:
            try: d = os.read(m, 4096)
            except OSError: return False
            if not d: return False
            buf += d
    pos = buf.index(pat.encode(), pos) + len(pat)
    return True
for st in steps:
    if "winsize" in st:
        r, c = st["winsize"]; fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0)); continue
    if "send" in st: os.write(m, st["send"].encode())
    if "expect" in st:
        # A resize needs sangja's SIGWINCH handler: retry the command until it shows.
        tries = st.get("retry", 1); found = False
        for i in range(tries):
            if read_until(st["expect"], st.get("t", 10) / tries): found = True; break
            if "send" in st: os.write(m, st["send"].encode())
        if not found:
            report["ok"] = False; report["failed_step"] = st; break
end = time.time() + 15; status = None
while time.time() < end:
    p, stt = os.waitpid(pid, os.WNOHANG)
    if p: status = stt; break
    r, _, _ = select.select([m], [], [], 0.05)
    if r:
        try: buf += os.read(m, 4096)
        except OSError: pass
if status is None:
    os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); report["hung"] = True
else:
    report["code"] = os.waitstatus_to_exitcode(status)
after = termios.tcgetattr(s)
report["icanon_before"] = bool(before[3] & termios.ICANON)
report["icanon_after"] = bool(after[3] & termios.ICANON)
report["echo_after"] = bool(after[3] & termios.ECHO)
report["same_termios"] = before == after
report["transcript"] = buf.decode("utf-8", "replace")
print(json.dumps(report))
"#;

fn drive(rt: &Runtime, steps: Value, argv: &[String]) -> Value {
    if Command::new("python3")
        .arg("-c")
        .arg("import pty")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        panic!("python3 with the pty module is needed for the terminal tests");
    }
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(DRIVER).arg(steps.to_string()).args(argv);
    cmd.env(
        "SANGJA_ITEST_CMD",
        format!("terminal driver {}", argv.join(" ")),
    );
    let t0 = Instant::now();
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = rt;
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}) after {:?}: {text}\nstderr: {}",
            t0.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn argv(rt: &Runtime, rest: &[&str]) -> Vec<String> {
    let mut v = vec![
        rt.path().display().to_string(),
        "--root".into(),
        rt.root().display().to_string(),
    ];
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

#[test]
fn run_with_terminal_through_a_real_pty() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_terminal(true);
    b.set_env("PS1", "itest-prompt# ");
    b.set_args(&["sh"]);
    let steps = serde_json::json!([
        {"expect": "itest-prompt# "},
        {"send": "tty\n", "expect": "/dev/pts/0"},
        {"send": "echo val-$((6*7))\n", "expect": "val-42"},
        {"send": "stat -c con-%t:%T /dev/console; stat -c tty-%t:%T $(tty)\n", "expect": "tty-"},
        {"winsize": [33, 111]},
        {"send": "stty size\n", "expect": "33 111", "retry": 5, "t": 10},
        // Wait for the output of this very command and the prompt after it: a Ctrl-D typed
        // ahead, while the shell is still between cooked and raw mode, is eaten by the line
        // discipline (the same happens with runc).
        {"send": "echo mark-$((2+3)); (exit 5)\n", "expect": "mark-5"},
        {"expect": "itest-prompt# "},
        {"send": "\u{4}"}
    ]);
    let r = drive(
        &rt,
        steps,
        &argv(
            &rt,
            &["run", "--bundle", b.path().to_str().unwrap(), c.id()],
        ),
    );
    let t = r["transcript"].as_str().unwrap_or("");
    assert_eq!(r["ok"], true, "a step failed: {r:#}");
    assert_ne!(r["hung"], true, "Ctrl-D did not end the run: {r:#}");
    assert_eq!(r["code"], 5, "the shell's exit code comes back: {r:#}");
    // /dev/console is the pty slave: a char device 136:N, the same as tty.
    // Output lines (not the echoed command line, which starts with the prompt).
    let field = |p: &str| {
        t.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(p))
            .unwrap_or("")
            .to_string()
    };
    let (con, tty) = (field("con-"), field("tty-"));
    assert!(
        con.starts_with("88:"),
        "/dev/console is a pts device (major 136): {con:?}\n{t}"
    );
    assert_eq!(con, tty, "/dev/console is the tty: {t}");
    assert!(
        r["icanon_before"] == true && r["icanon_after"] == true,
        "back in cooked mode: {r:#}"
    );
    assert_eq!(r["echo_after"], true, "echo restored: {r:#}");
    assert_eq!(r["same_termios"], true, "termios restored exactly: {r:#}");
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn exec_tty_relays() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let steps = serde_json::json!([
        {"send": "tty; echo v-$((2+3))\n", "expect": "v-5"},
        {"winsize": [40, 100]},
        {"send": "stty size\n", "expect": "40 100", "retry": 5, "t": 10},
        {"send": "exit 3\n"}
    ]);
    let r = drive(&rt, steps, &argv(&rt, &["exec", "-t", c.id(), "sh"]));
    let t = r["transcript"].as_str().unwrap_or("");
    assert_eq!(r["ok"], true, "a step failed: {r:#}");
    assert!(t.contains("/dev/pts/"), "exec -t gives a pty: {t}");
    assert_eq!(r["code"], 3, "{r:#}");
    assert_eq!(r["same_termios"], true, "termios restored: {r:#}");
    assert_eq!(c.status(), "running");
}

/// Accept one connection; receive the payload and every fd sent with it.
fn recv_console(listener: UnixListener) -> (String, Vec<OwnedFd>) {
    let (stream, _) = listener.accept().unwrap();
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut cbuf = [0u64; 32];
    // SAFETY: msghdr is plain data; zeroed is a valid start.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: buffers live and sized as declared.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    let mut fds = Vec::new();
    // SAFETY: walking the control buffer the kernel filled.
    unsafe {
        let mut cm = libc::CMSG_FIRSTHDR(&msg);
        while !cm.is_null() {
            if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == libc::SCM_RIGHTS {
                let len = (*cm).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(cm).cast::<RawFd>();
                for i in 0..len / 4 {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            cm = libc::CMSG_NXTHDR(&msg, cm);
        }
    }
    (
        String::from_utf8_lossy(&data[..n as usize]).into_owned(),
        fds,
    )
}

#[test]
fn console_socket_gets_one_master_and_the_pty_name_and_talks_both_ways() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_terminal(true);
    b.set_script("echo ready; read line; echo got-$line; tty");
    let sock = rt.scratch("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let recv = std::thread::spawn(move || recv_console(listener));
    rt.command(["create", "--console-socket"])
        .arg(&sock)
        .arg("--bundle")
        .arg(b.path())
        .arg(c.id())
        .output()
        .ok();
    let (name, fds) = recv.join().unwrap();
    assert_eq!(fds.len(), 1, "exactly one fd: {name:?}");
    if rt.is_sangja() {
        // runc 1.1.5 sends "/dev/ptmx" (the master's name); sangja sends the slave's.
        assert!(name.contains("pts"), "payload names the pty: {name:?}");
    }
    let mut master = fs::File::from(fds.into_iter().next().unwrap());
    c.start();
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("ready") && Instant::now() < deadline {
        let n = master.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    master.write_all(b"hello\n").unwrap();
    let rest = sangja_integration::console::read_until(master, "/dev/", Duration::from_secs(10));
    text.push_str(&rest);
    assert!(
        text.contains("got-hello"),
        "input reached the container: {text:?}"
    );
    let tty_line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("/dev/pts/"))
        .unwrap_or("");
    if rt.is_sangja() {
        assert_eq!(
            tty_line,
            name.trim_end_matches('\0'),
            "payload is the container's pty name: {text:?}"
        );
    }
    c.wait_status("stopped");
    c.delete(false).ok();
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn terminal_without_console_socket_is_refused_for_create_and_run_detached() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_terminal(true);
    b.set_args(&["true"]);
    let o = rt
        .command(["create", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, &["console socket", "console-socket"]);
    assert_clean(&rt, c.id(), &b);
    let o = rt
        .command(["run", "-d", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, &["console socket", "console-socket"]);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn exec_tty_without_socket_detached_is_refused() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("checked for sangja's wording only");
    }
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let o = rt
        .command(["exec", "-d", "-t"])
        .arg(c.id())
        .arg("true")
        .output();
    rt.assert_error(&o, &["console"]);
}
