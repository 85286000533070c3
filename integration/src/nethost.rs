//! Fake hosts for the network tests (sangja's built-in networking).
//!
//! Each test makes its own "test host", a named network namespace
//! (`ip netns add sangja-it-<pid>-<n>`, `lo` up), and runs sangja INSIDE it with
//! `nsenter --net=/var/run/netns/<name> sangja --root R ...`. `ip netns exec` is
//! not used: it remounts /sys, which hides the host's cgroup2 mount at
//! /sys/fs/cgroup/unified that sangja needs. So the bridge, the veths, the
//! sysctls and the `ip sangja` nftables table live in the test host; the real
//! host's interfaces, routes, sysctls and firewall are never touched, and no
//! packet leaves the machine. An "outside" peer is another `NetHost` joined to
//! the test host by a veth pair (`link_to`).
//!
//! - `NetHost`: the namespace (deleted on drop, after every guard holding it),
//!   commands run in it (`sh`, `cmd`, `sangja`), background servers (`Bg`),
//!   and what it holds: links, nftables elements, HTTP answers
//! - `NetCtr`: a container guard whose verbs, and whose `delete --force` on drop,
//!   run inside the test host (the plain `Container` guard would run them in the
//!   real host's namespace)
//! - `NetSnapshot` / `leases` / `hosts_entries`: sangja's network state, read
//!   from the test host and from `<root>/_networks/<name>/`

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::output::Out;
use crate::runtime::{default_timeout, Runtime, BASE_DIR, MARKER_ENV};
use crate::util;

/// The default network sangja uses when none is named.
pub const DEFAULT_NET: &str = "sangja0";

/// A test host: a named network namespace with `lo` up, deleted when the last
/// clone (every `NetCtr` and `Bg` holds one) is dropped. Cheap to clone.
#[derive(Clone)]
pub struct NetHost(Arc<HostInner>);

struct HostInner {
    name: String,
    path: PathBuf,
    /// Scratch files for the output of commands run in it.
    io: PathBuf,
}

impl Drop for HostInner {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        util::remove_tree(&self.io);
    }
}

impl Default for NetHost {
    fn default() -> Self {
        Self::new()
    }
}

impl NetHost {
    /// A fresh namespace `sangja-it-<pid>-<n>` with `lo` up.
    pub fn new() -> Self {
        let h = Self::bare();
        h.sh_ok("ip link set lo up");
        h
    }

    /// A fresh namespace left exactly as the kernel makes it (`lo` down).
    pub fn bare() -> Self {
        util::require_root();
        let name = format!("sangja-it-{}-{}", std::process::id(), util::next_serial());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let io = PathBuf::from(BASE_DIR).join(format!("nethost-{name}"));
        fs::create_dir_all(&io).unwrap_or_else(|e| panic!("mkdir {}: {e}", io.display()));
        NetHost(Arc::new(HostInner {
            path: PathBuf::from("/var/run/netns").join(&name),
            name,
            io,
        }))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// `/var/run/netns/<name>`.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// `net:[<inode>]`, as `readlink /proc/self/ns/net` prints it inside.
    pub fn ns_link(&self) -> String {
        format!("net:[{}]", util::inode_of(self.path()))
    }

    /// A scratch file path of this host (not created).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.0.io.join(format!("{}-{}", util::next_serial(), name))
    }

    /// `nsenter --net=<path> program args...` in this namespace.
    pub fn cmd<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> HostCmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        HostCmd {
            host: self.clone(),
            program: program.as_ref().to_os_string(),
            args: args
                .into_iter()
                .map(|a| a.as_ref().to_os_string())
                .collect(),
            stdout: None,
            timeout: default_timeout(),
            marker: false,
        }
    }

    /// `sh -c script` in this namespace, not asserted.
    pub fn sh(&self, script: &str) -> Out {
        self.cmd("sh", ["-c", script]).output()
    }

    /// `sh -c script` in this namespace, asserted successful; its stdout.
    #[track_caller]
    pub fn sh_ok(&self, script: &str) -> String {
        let o = self.sh(script);
        if !o.success() {
            panic!("in test host {}: command failed:\n{o:?}", self.name());
        }
        o.stdout
    }

    /// The runtime under test in this namespace: `<runtime> --root <root>`, then
    /// the arguments given to the returned command.
    pub fn sangja(&self, rt: &Runtime) -> HostCmd {
        let mut c = self.cmd(rt.path(), ["--root"]);
        c.args.push(rt.root().as_os_str().to_os_string());
        c.marker = true;
        c
    }

    /// A veth pair between this host (`my_cidr`, e.g. 192.0.2.1/24) and `peer`
    /// (`peer_cidr`), both ends up. The names are fixed: each namespace has one.
    #[track_caller]
    pub fn link_to(&self, peer: &NetHost, my_cidr: &str, peer_cidr: &str) {
        self.sh_ok(&format!(
            "ip link add it-out type veth peer name it-in netns {peer} && \
             ip addr add {my_cidr} dev it-out && ip link set it-out up",
            peer = peer.name()
        ));
        peer.sh_ok(&format!(
            "ip addr add {peer_cidr} dev it-in && ip link set it-in up"
        ));
    }

    /// Names of every link (`ip -o link`), without the `@ifN` suffix.
    #[track_caller]
    pub fn links(&self) -> BTreeSet<String> {
        parse_links(&self.sh_ok("ip -o link show"))
    }

    /// Names of the veth links.
    #[track_caller]
    pub fn veths(&self) -> BTreeSet<String> {
        parse_links(&self.sh_ok("ip -o link show type veth"))
    }

    /// `nft list table ip sangja`, or None when the table does not exist.
    #[track_caller]
    pub fn nft_table(&self) -> Option<String> {
        let o = self.cmd("nft", ["list", "table", "ip", "sangja"]).output();
        if o.success() {
            Some(o.stdout)
        } else if o.stderr.contains("No such file") {
            None
        } else {
            panic!("nft list table failed:\n{o:?}")
        }
    }

    /// Every element of every set and map of `table ip sangja`, by set name,
    /// rendered as nft prints them (`10.123.0.2`, `tcp . 8080 : 10.123.0.2 . 80`,
    /// `10.123.0.0/24`). Empty when the table does not exist.
    #[track_caller]
    pub fn nft_elements(&self) -> BTreeMap<String, BTreeSet<String>> {
        let o = self
            .cmd("nft", ["-j", "list", "table", "ip", "sangja"])
            .output();
        if !o.success() {
            if o.stderr.contains("No such file") {
                return BTreeMap::new();
            }
            panic!("nft -j list table failed:\n{o:?}");
        }
        let v: Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("nft -j printed no JSON ({e}):\n{o:?}"));
        let mut out = BTreeMap::new();
        for item in v["nftables"].as_array().cloned().unwrap_or_default() {
            let Some(set) = item.get("set").or_else(|| item.get("map")) else {
                continue;
            };
            let name = set["name"].as_str().unwrap_or("?").to_string();
            let elems: BTreeSet<String> = set["elem"]
                .as_array()
                .map(|a| a.iter().map(render_nft).collect())
                .unwrap_or_default();
            out.insert(name, elems);
        }
        out
    }

    /// Every nftables element (any set) that mentions `needle` (an address).
    pub fn nft_elements_mentioning(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (set, elems) in self.nft_elements() {
            for e in elems {
                if e.split([' ', '/']).any(|w| w == needle) {
                    found.push(format!("{set}: {e}"));
                }
            }
        }
        found
    }

    /// One HTTP GET with the host's busybox wget, from this namespace.
    /// (No `-T`: busybox 1.35's wget crashes with it.)
    pub fn http_get(&self, url: &str) -> Out {
        self.cmd(util_busybox(), ["wget", "-qO-", url])
            .timeout(Duration::from_secs(10))
            .output()
    }

    /// Poll `http_get(url)` until it succeeds; the body. Panics after `timeout`.
    #[track_caller]
    pub fn wait_http(&self, url: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let o = self.http_get(url);
            if o.success() {
                return o.stdout;
            }
            if Instant::now() >= deadline {
                panic!(
                    "GET {url} from test host {} did not succeed within {timeout:?}:\n{o:?}",
                    self.name()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn util_busybox() -> PathBuf {
    crate::bundle::busybox_path()
}

/// `ip -o link` lines → link names (`5: veth0@if4: <...>` → `veth0`).
pub fn parse_links(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// One element of `nft -j` output as nft's text form.
fn render_nft(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(kv) if kv.len() == 2 => {
            format!("{} : {}", render_nft(&kv[0]), render_nft(&kv[1]))
        }
        Value::Object(m) => {
            if let Some(Value::Array(parts)) = m.get("concat") {
                parts.iter().map(render_nft).collect::<Vec<_>>().join(" . ")
            } else if let Some(p) = m.get("prefix") {
                format!("{}/{}", render_nft(&p["addr"]), render_nft(&p["len"]))
            } else if let Some(e) = m.get("elem") {
                render_nft(&e["val"])
            } else if let Some(Value::Array(r)) = m.get("range") {
                format!("{}-{}", render_nft(&r[0]), render_nft(&r[1]))
            } else {
                v.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A command to run inside a `NetHost` (through `nsenter --net`).
pub struct HostCmd {
    host: NetHost,
    program: OsString,
    args: Vec<OsString>,
    stdout: Option<PathBuf>,
    timeout: Duration,
    /// Set `SANGJA_ITEST_CMD` (runtime invocations, for the leftover detector).
    marker: bool,
}

impl HostCmd {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    /// Send stdout to this file (appended; a container inherits it). Without
    /// it, stdout goes to a fresh scratch file and ends up in `Out::stdout`.
    pub fn stdout_to(mut self, path: impl AsRef<Path>) -> Self {
        self.stdout = Some(path.as_ref().to_path_buf());
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    fn cmdline(&self) -> String {
        let mut s = format!("nsenter --net={} ", self.host.path().display());
        s.push_str(&self.program.to_string_lossy());
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Start it; stdio never goes to pipes (a detached container would hold them).
    pub fn spawn(self) -> Bg {
        let cmdline = self.cmdline();
        let out_path = self
            .stdout
            .clone()
            .unwrap_or_else(|| self.host.scratch("stdout"));
        let out_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", out_path.display()));
        let out_start = out_file.metadata().map(|m| m.len()).unwrap_or(0);
        let err_path = self.host.scratch("stderr");
        let err_file = File::create(&err_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", err_path.display()));
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.host.path().display()))
            .arg(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(out_file)
            .stderr(err_file)
            .process_group(0);
        if self.marker {
            c.env(MARKER_ENV, &cmdline);
        }
        let child = c.spawn().unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        Bg {
            _host: self.host,
            child: Some(child),
            cmdline,
            out_path,
            out_start,
            err_path,
            timeout: self.timeout,
            started: Instant::now(),
        }
    }

    /// Run to completion; panics (after killing its process group) on timeout.
    #[track_caller]
    pub fn output(self) -> Out {
        match self.spawn().wait_result() {
            Ok(o) => o,
            Err(o) => panic!("command hung (killed):\n{o:?}"),
        }
    }

    /// Run to completion; Err (after killing it) on timeout. Never panics on
    /// the command's own failure.
    pub fn output_result(self) -> Result<Out, Out> {
        self.spawn().wait_result()
    }
}

/// A process started in a `NetHost` (a server, or a command being waited for).
/// Its whole process group is SIGKILLed if it is dropped while running.
pub struct Bg {
    _host: NetHost,
    child: Option<Child>,
    cmdline: String,
    out_path: PathBuf,
    out_start: u64,
    err_path: PathBuf,
    timeout: Duration,
    started: Instant,
}

impl Bg {
    /// What it wrote so far (stdout, stderr).
    pub fn output_so_far(&self) -> (String, String) {
        let bytes = fs::read(&self.out_path).unwrap_or_default();
        let start = (self.out_start as usize).min(bytes.len());
        (
            String::from_utf8_lossy(&bytes[start..]).into_owned(),
            fs::read_to_string(&self.err_path).unwrap_or_default(),
        )
    }

    /// True while it runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Wait for exit; on timeout kill the process group and return Err.
    pub fn wait_result(mut self) -> Result<Out, Out> {
        let deadline = self.started + self.timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let child = self.child.as_mut().expect("child");
            match child.try_wait() {
                Ok(Some(_)) => return Ok(self.collect()),
                Ok(None) => {}
                Err(e) => panic!("wait {}: {e}", self.cmdline),
            }
            if Instant::now() >= deadline {
                self.kill_group();
                let mut out = self.collect();
                out.stderr.push_str(&format!(
                    "\n[bench: killed after timeout of {:?}]",
                    self.timeout
                ));
                return Err(out);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Kill the process group now and collect what it wrote.
    pub fn stop(mut self) -> Out {
        self.kill_group();
        self.collect()
    }

    fn kill_group(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let pid = c.id() as i32;
            // SAFETY: killpg has no memory-safety preconditions; pid is our child's group.
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn collect(&mut self) -> Out {
        let status = self.child.take().expect("child").wait().expect("wait");
        let (stdout, stderr) = self.output_so_far();
        Out {
            cmdline: self.cmdline.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill_group();
        }
    }
}

/// A container of the runtime under test living in a test host: a unique id,
/// the verbs run inside the test host, and `delete --force` (inside it) on drop,
/// then whatever is left in its cgroup killed and the cgroup removed.
pub struct NetCtr {
    host: NetHost,
    rt: Runtime,
    id: String,
}

impl NetCtr {
    /// A guard for a fresh id `itest-<test>-<pid>-<n>`.
    pub fn new(host: &NetHost, rt: &Runtime) -> Self {
        Self::with_tag(host, rt, &util::test_name())
    }

    /// A guard for a fresh id `itest-<tag>-<pid>-<n>`.
    pub fn with_tag(host: &NetHost, rt: &Runtime, tag: &str) -> Self {
        NetCtr {
            host: host.clone(),
            rt: rt.clone(),
            id: util::unique_id(tag),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh bundle whose cgroups path belongs to this container.
    pub fn bundle(&self) -> Bundle {
        Bundle::new(&self.id)
    }

    /// `<runtime> --root R args...` inside the test host.
    pub fn sangja(&self) -> HostCmd {
        self.host.sangja(&self.rt)
    }

    /// Foreground `run <flags> --bundle B ID`, not asserted; `Out::stdout` is
    /// what the container printed.
    pub fn run(&self, b: &Bundle, flags: &[&str]) -> Out {
        self.sangja()
            .arg("run")
            .args(flags)
            .arg("--bundle")
            .arg(b.path())
            .arg(&self.id)
            .output()
    }

    /// `run -d <flags> --bundle B ID` with the container's stdout appended to
    /// `stdout`, not asserted.
    pub fn run_detached(&self, b: &Bundle, flags: &[&str], stdout: &Path) -> Out {
        self.sangja()
            .args(["run", "-d"])
            .args(flags)
            .arg("--bundle")
            .arg(b.path())
            .arg(&self.id)
            .stdout_to(stdout)
            .output()
    }

    /// `create --bundle B ID` with the container's stdout sent to `stdout`, not asserted.
    pub fn create(&self, b: &Bundle, stdout: &Path) -> Out {
        self.sangja()
            .args(["create", "--bundle"])
            .arg(b.path())
            .arg(&self.id)
            .stdout_to(stdout)
            .output()
    }

    #[track_caller]
    pub fn start(&self) -> Out {
        self.sangja().args(["start", &self.id]).output().ok()
    }

    pub fn delete(&self, force: bool) -> Out {
        let c = self.sangja().arg("delete");
        let c = if force { c.arg("--force") } else { c };
        c.arg(&self.id).output()
    }

    /// `state ID` parsed; panics if it fails.
    #[track_caller]
    pub fn state(&self) -> Value {
        self.sangja().args(["state", &self.id]).output().ok().json()
    }

    #[track_caller]
    pub fn pid(&self) -> i32 {
        let st = self.state();
        st["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state has no numeric pid: {st}")) as i32
    }

    /// Poll `state` until its status is `want` (10 s).
    #[track_caller]
    pub fn wait_status(&self, want: &str) -> Value {
        util::wait_for(
            &format!("container {} to be {want}", self.id),
            Duration::from_secs(10),
            || {
                let o = self.sangja().args(["state", &self.id]).output();
                if o.success() && o.json()["status"] == want {
                    return Some(o.json());
                }
                None
            },
        )
    }

    /// The state directory `<root>/<id>`.
    pub fn state_dir(&self) -> PathBuf {
        self.rt.root().join(&self.id)
    }
}

impl Drop for NetCtr {
    fn drop(&mut self) {
        // Never panic here: this runs while a failed test unwinds.
        if self.state_dir().exists() {
            let r = self
                .sangja()
                .args(["delete", "--force", &self.id])
                .output_result();
            if let Err(o) = r {
                eprintln!("WARNING: delete --force {} hung; killed:\n{o:?}", self.id);
            }
        }
        let dirs = crate::leftovers::cgroup_dirs(&self.id);
        for dir in &dirs {
            if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    eprintln!("WARNING: killing leaked pid {pid} in {}", dir.display());
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in &dirs {
            while fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// `<root>/_networks/<net>`.
pub fn net_dir(rt: &Runtime, net: &str) -> PathBuf {
    rt.root().join("_networks").join(net)
}

/// The leases of network `net` as (container id, address), sorted by id; empty
/// when the network has no leases file.
#[track_caller]
pub fn leases(rt: &Runtime, net: &str) -> Vec<(String, Ipv4Addr)> {
    let p = net_dir(rt, net).join("leases.json");
    let Ok(text) = fs::read_to_string(&p) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", p.display()));
    let mut out: Vec<(String, Ipv4Addr)> = v["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let id = l["id"].as_str().unwrap_or("?").to_string();
            let a = l["address"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("lease without an address in {}: {l}", p.display()));
            (id, a)
        })
        .collect();
    out.sort();
    out
}

/// The container lines of network `net`'s hosts file (not comments, not the
/// localhost lines), each with its whitespace normalised to one space.
pub fn hosts_entries(rt: &Runtime, net: &str) -> Vec<String> {
    let text = fs::read_to_string(net_dir(rt, net).join("hosts")).unwrap_or_default();
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('#')
                && !l.starts_with("127.0.0.1 ")
                && !l.starts_with("::1 ")
        })
        .collect()
}

/// The first IPv4 address in `ip -4 -o addr show` output for `dev` (only a
/// complete `A.B.C.D/N` counts, so a half-written line is not misread).
pub fn parse_inet(text: &str, dev: &str) -> Option<Ipv4Addr> {
    text.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(dev))
        .find_map(|l| {
            let mut w = l.split_whitespace();
            w.find(|x| *x == "inet")?;
            w.next()?.split_once('/')?.0.parse().ok()
        })
}

/// Everything sangja networking keeps for one network, in a test host and
/// under a runtime root: compared before and after a failed command.
#[derive(Debug, PartialEq, Eq)]
pub struct NetSnapshot {
    pub links: BTreeSet<String>,
    pub leases: Vec<(String, Ipv4Addr)>,
    pub hosts: Vec<String>,
    pub nft: BTreeMap<String, BTreeSet<String>>,
    /// Entries of the runtime root other than `_networks*` (container state dirs).
    pub state_dirs: BTreeSet<String>,
}

impl NetSnapshot {
    #[track_caller]
    pub fn take(host: &NetHost, rt: &Runtime, net: &str) -> Self {
        let state_dirs = fs::read_dir(rt.root())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with("_networks"))
                    .collect()
            })
            .unwrap_or_default();
        NetSnapshot {
            links: host.links(),
            leases: leases(rt, net),
            hosts: hosts_entries(rt, net),
            nft: host.nft_elements(),
            state_dirs,
        }
    }
}

/// Everything of container `id` (address `addr`, veth `veth` if known) that
/// sangja networking could have left in `host` and under `rt`'s root.
pub fn net_leftovers(
    host: &NetHost,
    rt: &Runtime,
    net: &str,
    id: &str,
    addr: Option<Ipv4Addr>,
    veth: Option<&str>,
) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(v) = veth {
        if host.links().contains(v) {
            found.push(format!("veth {v} still exists"));
        }
    }
    for (lid, a) in leases(rt, net) {
        if lid == id || Some(a) == addr {
            found.push(format!("lease {a} of {lid} still in leases.json"));
        }
    }
    for l in hosts_entries(rt, net) {
        if l.split(' ').any(|w| w == id) || addr.is_some_and(|a| l.starts_with(&format!("{a} "))) {
            found.push(format!("hosts entry {l:?} remains"));
        }
    }
    if let Some(a) = addr {
        for e in host.nft_elements_mentioning(&a.to_string()) {
            if !e.starts_with("subnets:") {
                found.push(format!("nft element {e} remains"));
            }
        }
    }
    let resolv = net_dir(rt, net).join("resolv").join(format!("{id}.conf"));
    if resolv.exists() {
        found.push(format!("{} remains", resolv.display()));
    }
    if rt.root().join(id).exists() {
        found.push(format!(
            "state directory {} remains",
            rt.root().join(id).display()
        ));
    }
    found
}

/// Fail unless `net_leftovers` finds nothing.
#[track_caller]
pub fn assert_no_net_trace(
    host: &NetHost,
    rt: &Runtime,
    net: &str,
    id: &str,
    addr: Option<Ipv4Addr>,
    veth: Option<&str>,
) {
    let found = net_leftovers(host, rt, net, id, addr, veth);
    assert!(
        found.is_empty(),
        "container {id} left network state behind:\n  {}",
        found.join("\n  ")
    );
}

/// Give the container CAP_NET_RAW (busybox ping opens a raw socket) besides the
/// bench's default capability sets.
pub fn allow_ping(b: &mut Bundle) {
    for set in ["bounding", "effective", "permitted"] {
        let ptr = format!("/process/capabilities/{set}");
        let mut caps: Vec<Value> = b
            .config()
            .pointer(&ptr)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        if !caps.iter().any(|c| c == "CAP_NET_RAW") {
            caps.push(Value::from("CAP_NET_RAW"));
        }
        b.set(&ptr, Value::Array(caps));
    }
}

/// Set the `run.sangja.network*` annotations of `b` (for `create`).
pub fn set_net_annotations(b: &mut Bundle, kv: &[(&str, &str)]) {
    let mut ann = b
        .config()
        .get("annotations")
        .and_then(|a| a.as_object().cloned())
        .unwrap_or_default();
    for (k, v) in kv {
        ann.insert(k.to_string(), Value::from(*v));
    }
    b.set("/annotations", Value::Object(ann));
}

/// A bind mount of host directory `src` at `dst`, read-write.
pub fn bind_mount(b: &mut Bundle, src: &Path, dst: &str) {
    b.add_mount(serde_json::json!({
        "destination": dst, "type": "bind", "source": src,
        "options": ["rbind", "rw"]
    }));
}

/// The median of some durations (upper median for an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    assert!(!v.is_empty(), "median of nothing");
    v.sort();
    v[v.len() / 2]
}
