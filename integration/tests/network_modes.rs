//! When sangja touches the network: `--network host` shares the (test) host's
//! namespace, `--network none` gives a namespace with only `lo`, a namespace
//! given by `path` is joined untouched, and bad networking flags or annotations
//! are refused before any side effect.
//!
//! sangja-only (runc and crun have no networking). Every test builds its own
//! test host namespace and runs sangja inside it (see `nethost`).

use std::collections::BTreeSet;

use sangja_integration::nethost::{
    net_dir, parse_links, set_net_annotations, NetCtr, NetHost, NetSnapshot, DEFAULT_NET,
};
use sangja_integration::{assert_clean, util, Runtime};

fn sangja_only(rt: &Runtime) -> bool {
    if rt.is_sangja() {
        return true;
    }
    util::print_skip("sangja-only (built-in networking)");
    false
}

/// sangja made no network of its own in `host`: no bridge, no veth, no table,
/// no `_networks` directory.
#[track_caller]
fn assert_no_sangja_network(host: &NetHost, rt: &Runtime, also_allowed: &[&str]) {
    let mut allowed: BTreeSet<String> = BTreeSet::from(["lo".to_string()]);
    allowed.extend(also_allowed.iter().map(|s| s.to_string()));
    assert_eq!(host.links(), allowed, "links of the test host");
    assert!(host.nft_table().is_none(), "sangja made an nftables table");
    assert!(!net_dir(rt, DEFAULT_NET).exists(), "sangja made a network");
}

#[test]
fn network_host_shares_the_test_host_namespace() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_script("readlink /proc/self/ns/net; ip -o link show");
    let o = c.run(&b, &["--network", "host"]).ok();
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some(host.ns_link().as_str()), "{o:?}");
    let rest: Vec<&str> = lines.collect();
    assert_eq!(parse_links(&rest.join("\n")), host.links(), "{o:?}");
    assert_ne!(
        host.ns_link(),
        util::host_ns("net"),
        "the test host is not the real host"
    );
    assert_no_sangja_network(&host, &rt, &[]);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn network_none_has_only_lo() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    // The bundle's config already asks for a new netns; take it out so that
    // `--network none` has to add it.
    b.remove_namespace("network");
    b.set_script("readlink /proc/self/ns/net; ip -o link show; cat /etc/hosts 2>&1; true");
    let o = c.run(&b, &["--network", "none"]).ok();
    let mut lines = o.stdout.lines();
    let ns = lines.next().unwrap_or("");
    assert!(ns.starts_with("net:["), "{o:?}");
    assert_ne!(ns, host.ns_link(), "a new namespace: {o:?}");
    let links: Vec<&str> = lines.clone().filter(|l| l.contains(": <")).collect();
    assert_eq!(links.len(), 1, "only lo: {o:?}");
    assert!(
        links[0].starts_with("1: lo: <LOOPBACK,UP"),
        "lo is up: {o:?}"
    );
    assert!(
        !o.stdout.contains("written by sangja"),
        "no sangja hosts file without sangja networking: {o:?}"
    );
    assert_no_sangja_network(&host, &rt, &[]);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn netns_path_is_joined_untouched() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    // The namespace to join: as the kernel made it (lo DOWN), plus a veth pair
    // (this kernel has no dummy links).
    let target = NetHost::bare();
    target.sh_ok("ip link add mark0 type veth peer name mark1");
    let before = target.sh_ok("ip -d link show; ip addr show; ip route show table all");

    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.add_namespace("network", Some(&target.path().to_string_lossy()));
    b.set_script("readlink /proc/self/ns/net; ip -o link show");
    let o = c.run(&b, &[]).ok();
    let mut lines = o.stdout.lines();
    assert_eq!(lines.next(), Some(target.ns_link().as_str()), "{o:?}");
    let rest: Vec<&str> = lines.collect();
    assert_eq!(
        parse_links(&rest.join("\n")),
        BTreeSet::from(["lo", "mark0", "mark1"].map(String::from)),
        "no eth0 added: {o:?}"
    );
    let after = target.sh_ok("ip -d link show; ip addr show; ip route show table all");
    assert_eq!(before, after, "the joined namespace was changed");
    assert_no_sangja_network(&host, &rt, &[]);
    assert!(target.nft_table().is_none());
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn bridge_annotation_with_a_netns_path_is_refused() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let target = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.add_namespace("network", Some(&target.path().to_string_lossy()));
    set_net_annotations(&mut b, &[("run.sangja.network", "bridge")]);
    b.set_args(&["true"]);
    let out = rt.scratch("c.out");
    let o = c.create(&b, &out);
    rt.assert_error(&o, &["network namespace"]);
    rt.assert_sangja_wording(&o, &["invalid config: annotations.run.sangja.network"]);
    assert_no_sangja_network(&host, &rt, &[]);
    assert_eq!(target.links(), BTreeSet::from(["lo".to_string()]));
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn bad_network_flags_and_annotations_are_refused_before_any_side_effect() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let before = NetSnapshot::take(&host, &rt, DEFAULT_NET);
    for (flags, words) in [
        (
            vec!["--network", "host", "-p", "8080:80"],
            vec!["--network"],
        ),
        (
            vec!["--network", "none", "--ip", "10.123.0.9"],
            vec!["--network"],
        ),
        (
            vec!["-p", "0:80"],
            vec!["annotations.run.sangja.network.ports"],
        ),
        (vec!["-p", "8080:80/sctp"], vec!["sctp"]),
        (vec!["-p", "8080:80", "-p", "8080:81"], vec!["8080"]),
        (
            vec!["--subnet", "10.123.0.0/33"],
            vec!["annotations.run.sangja.network.subnet"],
        ),
        (vec!["--subnet", "10.123.0.1/24"], vec!["host bits"]),
        (
            vec!["--dns", "not-an-ip"],
            vec!["annotations.run.sangja.network.dns"],
        ),
        (
            vec!["--network", "bridge=this-name-is-too-long"],
            vec!["15"],
        ),
    ] {
        let c = NetCtr::new(&host, &rt);
        let mut b = c.bundle();
        b.set_args(&["true"]);
        let o = c.run(&b, &flags);
        assert!(
            o.code.is_some_and(|c| c != 0),
            "{flags:?} must be refused:\n{o:?}"
        );
        let low = o.stderr.to_lowercase();
        assert!(
            words.iter().all(|w| low.contains(&w.to_lowercase())),
            "{flags:?}: the message should name {words:?}:\n{o:?}"
        );
        assert_eq!(
            NetSnapshot::take(&host, &rt, DEFAULT_NET),
            before,
            "{flags:?}"
        );
        assert!(!net_dir(&rt, DEFAULT_NET).exists(), "{flags:?}");
        assert_clean(&rt, c.id(), &b);
    }
    for (key, value, words) in [
        ("run.sangja.network", "bridges", "run.sangja.network"),
        (
            "run.sangja.network.nosuchkey",
            "1",
            "run.sangja.network.nosuchkey",
        ),
        ("run.sangja.network.nat", "maybe", "run.sangja.network.nat"),
        (
            "run.sangja.network.hostname",
            "bad name!",
            "run.sangja.network.hostname",
        ),
    ] {
        let c = NetCtr::new(&host, &rt);
        let mut b = c.bundle();
        b.set_args(&["true"]);
        let mut kv = vec![(key, value)];
        if key != "run.sangja.network" {
            kv.push(("run.sangja.network", "bridge"));
        }
        set_net_annotations(&mut b, &kv);
        let out = rt.scratch("c.out");
        let o = c.create(&b, &out);
        rt.assert_error(&o, &["invalid config"]);
        rt.assert_sangja_wording(&o, &[words]);
        assert_eq!(NetSnapshot::take(&host, &rt, DEFAULT_NET), before, "{key}");
        assert_clean(&rt, c.id(), &b);
    }
}
