//! Root-only tests against the real kernel. Each runs in a "test host": a thread that unshared
//! its own network namespace (a netns switch is per thread; processes it spawns inherit it), so
//! the bridge, veths, sysctls and nftables table live there and vanish with it. "Containers" and
//! the "outside" host are `unshare -n sleep` processes; nothing touches the real host's network
//! and no packet leaves the machine (192.0.2.0/24, TEST-NET-1, is the outside link).
//! Without root, `nft`, `ip`, `nsenter`, `unshare` or busybox they say so loudly and pass.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use nix::sched::{setns, unshare, CloneFlags};

use super::config::{Request, KEY_BRIDGE, KEY_IP, KEY_MODE, KEY_PORTS};
use super::ipam::NetDir;
use super::{attach, detach, prepare, Attachment};

const TOOLS: [&str; 5] = ["ip", "nft", "nsenter", "unshare", "busybox"];

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn skip(test: &str) -> bool {
    let mut why = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        why.push("not root".to_string());
    }
    for t in TOOLS {
        if tool(t).is_none() {
            why.push(format!("no {t}"));
        }
    }
    if why.is_empty() {
        return false;
    }
    // Straight to fd 2, past the test harness's capture, so a skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {} (network root tests need root and {})",
        why.join(", "),
        TOOLS.join(", ")
    );
    true
}

fn netns_ino(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0)
}

/// Run `body` in a fresh network namespace ("the test host") with its own sangja root.
fn in_test_host(body: impl FnOnce(&Path) -> Result<()> + Send) {
    let res = std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            let before = netns_ino("/proc/thread-self/ns/net");
            unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
            let after = netns_ino("/proc/thread-self/ns/net");
            // Never go on in the real host's namespace.
            assert!(before != 0 && after != before && after != netns_ino("/proc/1/ns/net"));
            crate::sys::netif::set_up("lo").context("lo up in the test host")?;
            let root = tempfile::tempdir()?;
            body(root.path())
        })
        .join()
    });
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}"),
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// A process in a network namespace of its own, killed on drop.
struct NetnsProc(Child);

impl NetnsProc {
    fn spawn() -> Result<NetnsProc> {
        let child = Command::new(tool("unshare").unwrap())
            .args(["-n", "--", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .context("spawn unshare -n sleep")?;
        let p = NetnsProc(child);
        let mine = netns_ino("/proc/thread-self/ns/net");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ino = netns_ino(&format!("/proc/{}/ns/net", p.pid()));
            if ino != 0 && ino != mine {
                return Ok(p);
            }
            ensure!(Instant::now() < deadline, "unshare -n did not start");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    fn netns(&self) -> String {
        format!("/proc/{}/ns/net", self.pid())
    }
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for NetnsProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run a program (in the test host's namespace), returning stdout; fails with its stderr.
fn run(prog: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(tool(prog).with_context(|| format!("no {prog}"))?)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {prog}"))?;
    if !out.status.success() {
        bail!(
            "{prog} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run a program inside `p`'s network namespace.
fn run_in(p: &NetnsProc, args: &[&str]) -> Result<String> {
    let ns = format!("--net={}", p.netns());
    let mut all = vec![ns.as_str(), "--"];
    all.extend_from_slice(args);
    run("nsenter", &all)
}

fn request(id: &str, ann: &[(&str, &str)]) -> Request {
    let mut spec = crate::spec::default_spec(false);
    spec.set_hostname(Some(format!("{id}-host")));
    let mut map: std::collections::HashMap<String, String> =
        [(KEY_MODE.to_string(), "bridge".to_string())].into();
    for (k, v) in ann {
        map.insert(k.to_string(), v.to_string());
    }
    spec.set_annotations(Some(map));
    Request::from_spec(&spec, id).unwrap().unwrap()
}

fn alive(_: &str) -> bool {
    true
}

fn up(root: &Path, id: &str, ann: &[(&str, &str)], ctr: &NetnsProc) -> Result<Attachment> {
    let prep = prepare(root, &request(id, ann), &alive)?;
    attach(root, &prep, ctr.pid())
}

/// Join an "outside" netns to the test host: ext0 192.0.2.1/24 here, ext1 192.0.2.2/24 there.
fn outside() -> Result<NetnsProc> {
    let o = NetnsProc::spawn()?;
    let pid = o.pid().to_string();
    run(
        "ip",
        &[
            "link", "add", "ext0", "type", "veth", "peer", "name", "ext1", "netns", &pid,
        ],
    )?;
    run("ip", &["addr", "add", "192.0.2.1/24", "dev", "ext0"])?;
    run("ip", &["link", "set", "ext0", "up"])?;
    run_in(&o, &["ip", "addr", "add", "192.0.2.2/24", "dev", "ext1"])?;
    run_in(&o, &["ip", "link", "set", "ext1", "up"])?;
    run_in(&o, &["ip", "link", "set", "lo", "up"])?;
    Ok(o)
}

/// Run `f` on a thread inside `pid`'s network namespace (the test host's when `None`).
fn on_thread_in<T: Send + 'static>(
    netns: Option<String>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::thread::JoinHandle<Result<T>> {
    std::thread::spawn(move || {
        if let Some(ns) = netns {
            let file = File::open(&ns).with_context(|| format!("open {ns}"))?;
            setns(&file, CloneFlags::CLONE_NEWNET).context("setns")?;
        }
        f()
    })
}

/// A TCP server in `netns`: answers `reply` and records each peer until stopped.
struct Server {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<Vec<SocketAddr>>>>,
}

impl Server {
    fn start(netns: Option<String>, port: u16, reply: &str) -> Result<Server> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (s2, reply) = (stop.clone(), reply.to_string());
        let handle = on_thread_in(netns, move || {
            let l = TcpListener::bind(("0.0.0.0", port)).context("bind")?;
            l.set_nonblocking(true)?;
            let _ = tx.send(());
            let mut peers = Vec::new();
            while !s2.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, peer)) => {
                        peers.push(peer);
                        c.set_nonblocking(false)?;
                        let _ = c.write_all(reply.as_bytes());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(peers)
        });
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| anyhow!("server did not start"))?;
        Ok(Server {
            stop,
            handle: Some(handle),
        })
    }
    fn peers(mut self) -> Result<Vec<SocketAddr>> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .unwrap()
            .join()
            .map_err(|_| anyhow!("server panicked"))?
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Connect from `netns` to `addr` and read the answer.
fn fetch(netns: Option<String>, addr: &str) -> Result<String> {
    let addr: SocketAddr = addr.parse()?;
    on_thread_in(netns, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .with_context(|| format!("connect {addr}"))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)
            .with_context(|| format!("read from {addr}"))?;
        Ok(out)
    })
    .join()
    .map_err(|_| anyhow!("client panicked"))?
}

fn ping(from: &NetnsProc, target: &str) -> Result<()> {
    run_in(from, &["busybox", "ping", "-c", "1", "-W", "3", target]).map(|_| ())
}

/// Ping by name the way the container would: with the network's hosts file at /etc/hosts.
fn ping_by_name(from: &NetnsProc, hosts: &Path, name: &str) -> Result<String> {
    let script = format!(
        "mount --bind {} /etc/hosts && busybox ping -c 1 -W 3 {name}",
        hosts.display()
    );
    run_in(from, &["unshare", "-m", "--", "sh", "-c", &script])
}

fn veths() -> Result<Vec<String>> {
    Ok(run("ip", &["-o", "link", "show", "type", "veth"])?
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect())
}

/// Elements in the per-container sets and maps of the sangja table.
fn nft_elements() -> Result<usize> {
    let mut n = 0;
    for (kind, name) in [("set", "masq"), ("map", "ports"), ("map", "hostports")] {
        let text = run("nft", &["list", kind, "ip", "sangja", name])?;
        if let Some(rest) = text.split("elements = {").nth(1) {
            n += rest.split('}').next().unwrap_or("").split(',').count();
        }
    }
    Ok(n)
}

fn hosts_entries(hosts: &Path) -> Result<Vec<String>> {
    Ok(std::fs::read_to_string(hosts)?
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("localhost"))
        .map(str::to_string)
        .collect())
}

#[test]
fn two_containers_ping_each_other_and_reach_outside_through_masquerade() {
    if skip("two_containers_ping_each_other_and_reach_outside_through_masquerade") {
        return;
    }
    in_test_host(|root| {
        let (ca, cb) = (NetnsProc::spawn()?, NetnsProc::spawn()?);
        let a = up(root, "alpha", &[], &ca)?;
        let b = up(root, "beta", &[], &cb)?;
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?.trim(),
            "1"
        );
        // the container side: eth0 with the address, lo up, default route via the gateway
        let addr = run_in(&ca, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])?;
        assert!(addr.contains(&format!("{}/24", a.address)), "{addr}");
        let routes = run_in(&ca, &["ip", "route", "show", "default"])?;
        assert!(
            routes.contains(&format!("default via {} dev eth0", a.gateway)),
            "{routes}"
        );
        assert!(run_in(&ca, &["ip", "-o", "link", "show", "lo"])?.contains("LOOPBACK,UP"));

        ping(&ca, &b.address.to_string())?;
        ping(&cb, &a.address.to_string())?;
        let out = ping_by_name(&ca, &a.hosts_file, "beta")?;
        assert!(out.contains(&format!("({})", b.address)), "{out}");
        let out = ping_by_name(&cb, &b.hosts_file, "alpha-host")?;
        assert!(out.contains(&format!("({})", a.address)), "{out}");

        // masquerade: the outside host sees the test host's address, not the container's
        let o = outside()?;
        let srv = Server::start(Some(o.netns()), 9000, "outside\n")?;
        let got = fetch(Some(ca.netns()), "192.0.2.2:9000")?;
        assert_eq!(got, "outside\n");
        let peers = srv.peers()?;
        assert_eq!(peers.len(), 1);
        assert_eq!(
            peers[0].ip().to_string(),
            "192.0.2.1",
            "source seen outside"
        );

        detach(root, &a)?;
        detach(root, &b)?;
        assert!(veths()?.iter().all(|v| v == "ext0"), "{:?}", veths()?);
        Ok(())
    });
}

#[test]
fn published_port_reached_from_the_host_another_netns_and_loopback() {
    if skip("published_port_reached_from_the_host_another_netns_and_loopback") {
        return;
    }
    in_test_host(|root| {
        let web = NetnsProc::spawn()?;
        let o = outside()?;
        let a = up(
            root,
            "web",
            &[(KEY_PORTS, "8080:80,127.0.0.1:8081:80")],
            &web,
        )?;
        let _srv = Server::start(Some(web.netns()), 80, "hello from web\n")?;
        // from the test host, to its own address
        assert_eq!(fetch(None, "192.0.2.1:8080")?, "hello from web\n");
        // from another network namespace, through the test host's address
        assert_eq!(
            fetch(Some(o.netns()), "192.0.2.1:8080")?,
            "hello from web\n"
        );
        // from the test host's loopback (route_localnet + output DNAT + masquerade)
        assert_eq!(fetch(None, "127.0.0.1:8080")?, "hello from web\n");
        // a port published on 127.0.0.1 only
        assert_eq!(fetch(None, "127.0.0.1:8081")?, "hello from web\n");
        assert!(
            fetch(Some(o.netns()), "192.0.2.1:8081").is_err(),
            "8081 is only on 127.0.0.1"
        );
        // a second container reaches the first through the published port on the host
        let other = NetnsProc::spawn()?;
        let b = up(root, "client", &[], &other)?;
        assert_eq!(
            fetch(Some(other.netns()), "192.0.2.1:8080")?,
            "hello from web\n"
        );

        detach(root, &a)?;
        assert!(
            fetch(None, "192.0.2.1:8080").is_err(),
            "unpublished after detach"
        );
        detach(root, &b)?;
        assert_eq!(nft_elements()?, 0);
        Ok(())
    });
}

#[test]
fn fifty_parallel_attaches_get_distinct_addresses_and_leave_nothing_behind() {
    if skip("fifty_parallel_attaches_get_distinct_addresses_and_leave_nothing_behind") {
        return;
    }
    in_test_host(|root| {
        let ctrs: Vec<NetnsProc> = (0..50).map(|_| NetnsProc::spawn()).collect::<Result<_>>()?;
        let atts: Vec<Attachment> = std::thread::scope(|s| {
            let hs: Vec<_> = ctrs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let port = (10000 + i).to_string();
                    s.spawn(move || {
                        up(
                            root,
                            &format!("c{i}"),
                            &[(KEY_PORTS, &format!("{port}:80"))],
                            c,
                        )
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Result<Vec<_>>>()
        })?;
        let addrs: HashSet<Ipv4Addr> = atts.iter().map(|a| a.address).collect();
        assert_eq!(addrs.len(), 50);
        assert_eq!(veths()?.len(), 50);
        assert_eq!(nft_elements()?, 100, "50 masq + 50 ports");
        assert_eq!(hosts_entries(&atts[0].hosts_file)?.len(), 50);
        for (c, a) in ctrs.iter().zip(&atts).step_by(7) {
            let addr = run_in(c, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])?;
            assert!(addr.contains(&format!("{}/24", a.address)), "{addr}");
        }
        ping(&ctrs[0], &atts[49].address.to_string())?;

        let errs: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = atts
                .iter()
                .map(|a| s.spawn(move || detach(root, a)))
                .collect();
            hs.into_iter()
                .filter_map(|h| h.join().unwrap().err().map(|e| e.to_string()))
                .collect()
        });
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(veths()?, Vec::<String>::new());
        assert_eq!(nft_elements()?, 0);
        assert!(NetDir::new(root, "sangja0")
            .load_leases()?
            .leases
            .is_empty());
        assert_eq!(hosts_entries(&atts[0].hosts_file)?, Vec::<String>::new());
        assert!(atts.iter().all(|a| !a.resolv_conf.exists()));
        Ok(())
    });
}

#[test]
fn a_failure_after_the_veth_leaves_no_veth_and_no_lease() {
    if skip("a_failure_after_the_veth_leaves_no_veth_and_no_lease") {
        return;
    }
    in_test_host(|root| {
        let (c1, c2) = (NetnsProc::spawn()?, NetnsProc::spawn()?);
        let a = up(root, "first", &[(KEY_PORTS, "8080:80")], &c1)?;
        // Another network does not see the port in its leases, so the kernel refuses it at the
        // nftables step, after the veth pair exists.
        let e = up(
            root,
            "second",
            &[(KEY_BRIDGE, "blue"), (KEY_PORTS, "8080:80")],
            &c2,
        )
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("already published") && msg.contains("File exists"),
            "{msg}"
        );
        assert_eq!(veths()?, vec![a.veth.clone()]);
        assert!(
            run_in(&c2, &["ip", "-o", "link"])?.lines().count() == 1,
            "only lo in the container"
        );
        assert!(NetDir::new(root, "blue").load_leases()?.leases.is_empty());
        let hosts = NetDir::new(root, "blue").hosts_path();
        assert_eq!(hosts_entries(&hosts)?, Vec::<String>::new());
        assert_eq!(nft_elements()?, 2, "only first's masq and port");

        // an impossible --ip is refused before anything exists
        let e = up(root, "third", &[(KEY_IP, "10.123.0.1")], &c2).unwrap_err();
        assert!(format!("{e:#}").contains("not assignable"), "{e:#}");
        assert_eq!(veths()?, vec![a.veth.clone()]);
        assert_eq!(NetDir::new(root, "sangja0").load_leases()?.leases.len(), 1);
        detach(root, &a)?;
        Ok(())
    });
}

#[test]
fn a_killed_container_is_fully_cleaned() {
    if skip("a_killed_container_is_fully_cleaned") {
        return;
    }
    in_test_host(|root| {
        let mut c = NetnsProc::spawn()?;
        let a = up(root, "victim", &[(KEY_PORTS, "9090:90")], &c)?;
        assert_eq!(veths()?, vec![a.veth.clone()]);
        c.kill(); // SIGKILL: its netns and the veth pair go away with it
        let deadline = Instant::now() + Duration::from_secs(5);
        while !veths()?.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        detach(root, &a).map_err(|e| anyhow!("{e}"))?;
        assert_eq!(veths()?, Vec::<String>::new());
        assert_eq!(nft_elements()?, 0);
        assert!(NetDir::new(root, "sangja0")
            .load_leases()?
            .leases
            .is_empty());
        assert_eq!(hosts_entries(&a.hosts_file)?, Vec::<String>::new());
        Ok(())
    });
}

#[test]
fn the_bridge_stays_until_the_network_is_removed() {
    if skip("the_bridge_stays_until_the_network_is_removed") {
        return;
    }
    in_test_host(|root| {
        let c = NetnsProc::spawn()?;
        let a = up(root, "only", &[(KEY_BRIDGE, "sjtest0")], &c)?;
        let e = super::remove_network(root, "sjtest0", &alive).unwrap_err();
        assert_eq!(e.to_string(), "network sjtest0 is still used by only");
        detach(root, &a)?;
        assert!(
            run("ip", &["link", "show", "sjtest0"]).is_ok(),
            "the bridge stays"
        );
        super::remove_network(root, "sjtest0", &alive)?;
        assert!(run("ip", &["link", "show", "sjtest0"]).is_err());
        assert!(!root.join("_networks/sjtest0").exists());
        // It was the only network: the table, with its hooked chains, is gone too.
        assert!(
            run("nft", &["list", "table", "ip", "sangja"]).is_err(),
            "the last network takes sangja's nft table with it"
        );
        Ok(())
    });
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Time `prepare + attach` and `detach`, against the same setup done with `ip` commands.
/// `cargo test --lib network::root_tests::bench -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_attach_against_ip_commands() {
    if skip("bench_attach_against_ip_commands") {
        return;
    }
    in_test_host(|root| {
        const N: usize = 21;
        let (mut att, mut det, mut att_nonat, mut ipcmd, mut ipdel) =
            (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..N {
            let c = NetnsProc::spawn()?;
            let t = Instant::now();
            let a = up(root, &format!("b{i}"), &[(KEY_PORTS, "8080:80")], &c)?;
            att.push(t.elapsed());
            let t = Instant::now();
            detach(root, &a)?;
            det.push(t.elapsed());
        }
        for i in 0..N {
            let c = NetnsProc::spawn()?;
            let t = Instant::now();
            let a = up(
                root,
                &format!("n{i}"),
                &[("run.sangja.network.nat", "false")],
                &c,
            )?;
            att_nonat.push(t.elapsed());
            detach(root, &a)?;
        }
        for _ in 0..N {
            let c = NetnsProc::spawn()?;
            let pid = c.pid().to_string();
            let t = Instant::now();
            run(
                "ip",
                &[
                    "link", "add", "vb0", "mtu", "1500", "master", "sangja0", "type", "veth",
                    "peer", "name", "eth0", "netns", &pid,
                ],
            )?;
            run("ip", &["link", "set", "vb0", "up"])?;
            run_in(&c, &["ip", "addr", "add", "10.123.0.200/24", "dev", "eth0"])?;
            run_in(&c, &["ip", "link", "set", "eth0", "up"])?;
            run_in(&c, &["ip", "link", "set", "lo", "up"])?;
            run_in(&c, &["ip", "route", "add", "default", "via", "10.123.0.1"])?;
            ipcmd.push(t.elapsed());
            let t = Instant::now();
            run("ip", &["link", "del", "vb0"])?;
            ipdel.push(t.elapsed());
        }
        eprintln!(
            "BENCH median of {N}: prepare+attach (NAT + 1 port) {:?}, without nft {:?}, detach {:?}; \
             same veth setup with ip commands {:?}, ip link del {:?}",
            median(att),
            median(att_nonat),
            median(det),
            median(ipcmd),
            median(ipdel)
        );
        Ok(())
    });
}
