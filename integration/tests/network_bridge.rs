//! sangja's built-in bridge networking, seen from the network: two containers
//! on one bridge ping each other by address, id and hostname; a container
//! reaches an "outside" host through masquerade; a server in a container is
//! reached through published ports from the test host, from another netns,
//! from the test host's loopback and from another container.
//!
//! sangja-only (runc and crun have no networking). Every test builds its own
//! test host namespace and runs sangja inside it (see `nethost`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sangja_integration::nethost::{
    allow_ping, assert_no_net_trace, bind_mount, hosts_entries, leases, parse_inet,
    set_net_annotations, NetCtr, NetHost, NetSnapshot, DEFAULT_NET,
};
use sangja_integration::{assert_clean, util, Runtime};

/// The test host's address on its link to the outside netns, and the outside's.
const HOST_ADDR: &str = "192.0.2.1";
const OUTSIDE_ADDR: &str = "192.0.2.2";

fn sangja_only(rt: &Runtime) -> bool {
    if rt.is_sangja() {
        return true;
    }
    util::print_skip("sangja-only (built-in networking)");
    false
}

/// The test host linked to an outside netns by a veth (192.0.2.1 ↔ 192.0.2.2).
fn host_with_outside() -> (NetHost, NetHost) {
    let host = NetHost::new();
    let outside = NetHost::new();
    host.link_to(
        &outside,
        &format!("{HOST_ADDR}/24"),
        &format!("{OUTSIDE_ADDR}/24"),
    );
    (host, outside)
}

#[test]
fn two_containers_ping_each_other_by_address_id_and_hostname() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let a = NetCtr::new(&host, &rt);
    let b = NetCtr::new(&host, &rt);
    let mut ba = a.bundle();
    let mut bb = b.bundle();
    let shared = ba.host_dir("shared");
    for (bundle, name) in [(&mut ba, "alpha"), (&mut bb, "beta")] {
        allow_ping(bundle);
        bundle.set_hostname(name);
        bind_mount(bundle, &shared, "/shared");
    }
    // ping's exit status for each target, as "addr=0 id=0 name=0".
    let pings = |addr: &str, id: &str, name: &str| {
        format!(
            "r=''; for t in {addr} {id} {name}; do ping -c1 -W3 \"$t\" >/dev/null 2>&1; r=\"$r $?\"; done; \
             set -- $r; echo \"addr=$1 id=$2 name=$3\""
        )
    };
    let wait_file = |f: &str| {
        format!("i=0; while [ ! -s {f} ] && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.05; done")
    };
    // A: publish its address, wait for B's, ping B, keep running.
    ba.set_script(&format!(
        "ip -4 -o addr show dev eth0 > /shared/a.tmp && mv /shared/a.tmp /shared/a.addr; \
         {wait_b}; B=$(sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p' /shared/b.addr); \
         {ping_b} > /shared/a.tmp && mv /shared/a.tmp /shared/a.result; exec sleep 600",
        wait_b = wait_file("/shared/b.addr"),
        ping_b = pings("\"$B\"", b.id(), "beta"),
    ));
    let a_out = rt.scratch("a.out");
    a.run_detached(&ba, &["--network", "bridge"], &a_out).ok();
    let a_addr = util::wait_for("container A's address", Duration::from_secs(10), || {
        fs::read_to_string(shared.join("a.addr"))
            .ok()
            .and_then(|t| parse_inet(&t, "eth0"))
    });
    // B: publish its address, ping A, wait for A's result, print both.
    bb.set_script(&format!(
        "ip -4 -o addr show dev eth0 > /shared/b.tmp && mv /shared/b.tmp /shared/b.addr; \
         echo \"b: $({ping_a})\"; {wait_a}; echo \"a: $(cat /shared/a.result)\"; \
         echo ---; cat /etc/hosts",
        ping_a = pings(&a_addr.to_string(), a.id(), "alpha"),
        wait_a = wait_file("/shared/a.result"),
    ));
    let o = b.run(&bb, &["--network", "bridge"]).ok();
    let b_addr = parse_inet(&fs::read_to_string(shared.join("b.addr")).unwrap(), "eth0")
        .expect("B's address");
    assert_ne!(a_addr, b_addr, "two containers got one address: {o:?}");
    assert!(
        o.stdout.contains("b: addr=0 id=0 name=0"),
        "B pings A ({a_addr}, {}, alpha) — 0 is success:\n{o:?}",
        a.id()
    );
    assert!(
        o.stdout.contains("a: addr=0 id=0 name=0"),
        "A pings B ({b_addr}, {}, beta) — 0 is success; A saw B only through the \
         hosts file rewritten in place after A started:\n{o:?}",
        b.id()
    );
    // The hosts file named both, each with its id and hostname.
    assert!(
        o.stdout.contains(&format!("{a_addr}\t{}\talpha", a.id()))
            && o.stdout.contains(&format!("{b_addr}\t{}\tbeta", b.id())),
        "hosts file inside B:\n{o:?}"
    );
    // B is gone (run deletes): its lease and hosts entry went with it.
    assert_no_net_trace(&host, &rt, DEFAULT_NET, b.id(), Some(b_addr), None);
    assert_eq!(leases(&rt, DEFAULT_NET), vec![(a.id().to_string(), a_addr)]);
    a.delete(true).ok();
    assert_no_net_trace(&host, &rt, DEFAULT_NET, a.id(), Some(a_addr), None);
    assert!(host.veths().is_empty(), "veths left: {:?}", host.veths());
    assert!(hosts_entries(&rt, DEFAULT_NET).is_empty());
    assert_clean(&rt, a.id(), &ba);
    assert_clean(&rt, b.id(), &bb);
}

/// A www root with `cgi-bin/peer`, which answers `peer=<REMOTE_ADDR>`.
fn peer_cgi(dir: &std::path::Path) {
    let cgi = dir.join("cgi-bin");
    fs::create_dir_all(&cgi).unwrap();
    let script = cgi.join("peer");
    fs::write(
        &script,
        "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"peer=$REMOTE_ADDR\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn masquerade_outside_sees_the_test_host_address() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let (host, outside) = host_with_outside();
    // A route back to the container subnet, so that a packet that was NOT
    // masqueraded is still answered and the outside reports its real source.
    outside.sh_ok(&format!("ip route add 10.123.0.0/16 via {HOST_ADDR}"));
    let www = host.scratch("www");
    peer_cgi(&www);
    let url = format!("http://{OUTSIDE_ADDR}:8080/cgi-bin/peer");
    let _server = outside
        .cmd(
            sangja_integration::bundle::busybox_path(),
            [
                "httpd",
                "-f",
                "-vv",
                "-p",
                &format!("{OUTSIDE_ADDR}:8080"),
                "-h",
            ],
        )
        .arg(&www)
        .spawn();
    outside.wait_http(&url, Duration::from_secs(10));

    // NAT on (the default).
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_script(&format!(
        "ip -4 -o addr show dev eth0; timeout 10 wget -qO- {url}"
    ));
    let o = c.run(&b, &["--network", "bridge"]).ok();
    let addr = parse_inet(&o.stdout, "eth0").expect("container address");
    assert!(
        o.stdout.contains(&format!("peer={HOST_ADDR}\n")),
        "the outside must see the test host's address {HOST_ADDR}, not the container's {addr}:\n{o:?}"
    );
    assert_no_net_trace(&host, &rt, DEFAULT_NET, c.id(), Some(addr), None);

    // Contrast: run.sangja.network.nat=false (through create's annotations)
    // reaches the outside with the container's own address.
    let c2 = NetCtr::new(&host, &rt);
    let mut b2 = c2.bundle();
    set_net_annotations(
        &mut b2,
        &[
            ("run.sangja.network", "bridge"),
            ("run.sangja.network.nat", "false"),
        ],
    );
    b2.set_script(&format!(
        "ip -4 -o addr show dev eth0; timeout 10 wget -qO- {url}"
    ));
    let o2 = c2.run(&b2, &[]).ok();
    let addr2 = parse_inet(&o2.stdout, "eth0").expect("container address");
    assert!(
        o2.stdout.contains(&format!("peer={addr2}\n")),
        "with nat=false the outside sees the container's address {addr2}:\n{o2:?}"
    );
    assert_no_net_trace(&host, &rt, DEFAULT_NET, c2.id(), Some(addr2), None);
    assert!(
        host.veths().iter().all(|v| v == "it-out"),
        "{:?}",
        host.veths()
    );
}

#[test]
fn published_ports_reached_from_host_outside_loopback_and_a_container() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let (host, outside) = host_with_outside();
    let token = format!("token-{}", util::next_serial() + 4242);

    // The server: create + start with annotations (the `run` flags are tested
    // by the other tests). 8080 on every local address, 8081 on 192.0.2.1 only,
    // and a UDP mapping (checked in the table only).
    let web = NetCtr::new(&host, &rt);
    let mut wb = web.bundle();
    wb.set_hostname("web");
    set_net_annotations(
        &mut wb,
        &[
            ("run.sangja.network", "bridge"),
            (
                "run.sangja.network.ports",
                &format!("8080:80,{HOST_ADDR}:8081:80,5353:53/udp"),
            ),
        ],
    );
    wb.set_script(&format!(
        "ip -4 -o addr show dev eth0; mkdir -p /www && echo {token} > /www/index.html && \
         exec httpd -f -p 80 -h /www"
    ));
    let web_out = rt.scratch("web.out");
    web.create(&wb, &web_out).ok();
    web.start();
    let addr = util::wait_for("the server's address", Duration::from_secs(10), || {
        parse_inet(&fs::read_to_string(&web_out).unwrap_or_default(), "eth0")
    });
    let body = host.wait_http("http://127.0.0.1:8080/", Duration::from_secs(10));
    assert_eq!(body.trim(), token, "from the test host's loopback");

    let get = |h: &NetHost, url: &str| {
        let o = h.http_get(url);
        assert!(
            o.success() && o.stdout.trim() == token,
            "GET {url} from {} should answer {token}:\n{o:?}",
            h.name()
        );
    };
    get(&host, &format!("http://{HOST_ADDR}:8080/"));
    get(&outside, &format!("http://{HOST_ADDR}:8080/"));
    get(&outside, &format!("http://{HOST_ADDR}:8081/"));
    get(&host, &format!("http://{HOST_ADDR}:8081/"));
    // 8081 is published on 192.0.2.1 only.
    let o = host.http_get("http://127.0.0.1:8081/");
    assert!(
        !o.success(),
        "8081 is published on {HOST_ADDR} only:\n{o:?}"
    );

    // Another container on the bridge, through the host's published port.
    let client = NetCtr::new(&host, &rt);
    let mut cb = client.bundle();
    cb.set_script(&format!("timeout 10 wget -qO- http://{HOST_ADDR}:8080/"));
    let o = client.run(&cb, &["--network", "bridge"]).ok();
    assert_eq!(o.stdout.trim(), token, "from another container: {o:?}");

    let nft = host.nft_elements();
    let has = |set: &str, e: String| {
        assert!(
            nft.get(set).is_some_and(|s| s.contains(&e)),
            "nft {set} should hold {e:?}: {nft:#?}"
        )
    };
    has("ports", format!("tcp . 8080 : {addr} . 80"));
    has("ports", format!("udp . 5353 : {addr} . 53"));
    has(
        "hostports",
        format!("{HOST_ADDR} . tcp . 8081 : {addr} . 80"),
    );
    has("masq", addr.to_string());

    // A second container asking for 8080 is refused and leaves nothing.
    let before = NetSnapshot::take(&host, &rt, DEFAULT_NET);
    let dup = NetCtr::new(&host, &rt);
    let mut db = dup.bundle();
    db.set_args(&["true"]);
    let o = dup.run(&db, &["-p", "8080:80"]);
    rt.assert_error(&o, &["8080"]);
    assert_eq!(NetSnapshot::take(&host, &rt, DEFAULT_NET), before, "{o:?}");
    assert_clean(&rt, dup.id(), &db);

    // Deleting the server removes its elements; the port answers no more.
    web.delete(true).ok();
    assert_no_net_trace(&host, &rt, DEFAULT_NET, web.id(), Some(addr), None);
    let o = host.http_get("http://127.0.0.1:8080/");
    assert!(!o.success(), "8080 still answers after delete:\n{o:?}");
    assert_clean(&rt, web.id(), &wb);
}

#[test]
fn dns_flags_write_the_containers_resolv_conf() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_script("ip -4 -o addr show dev eth0; cat /etc/resolv.conf");
    let o = c
        .run(&b, &["--dns", "192.0.2.53", "--dns", "192.0.2.54"])
        .ok();
    let addr = parse_inet(&o.stdout, "eth0").expect("--dns implies --network bridge");
    let ns: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("nameserver"))
        .collect();
    assert_eq!(
        ns,
        ["nameserver 192.0.2.53", "nameserver 192.0.2.54"],
        "{o:?}"
    );
    assert_no_net_trace(&host, &rt, DEFAULT_NET, c.id(), Some(addr), None);
    assert_clean(&rt, c.id(), &b);
}
