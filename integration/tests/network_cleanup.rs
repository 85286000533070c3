//! sangja networking leaves nothing behind: 50 containers made in parallel on
//! one network get 50 distinct addresses and, once deleted, no veth, lease,
//! nftables element or hosts entry remains; a refused `--ip`, a failure after
//! the veth exists (an nftables batch the kernel refuses), a SIGKILLed container
//! (`delete --force`) and a created-never-started one (`delete`) are fully
//! cleaned; `sangja network rm` refuses a network in use, reclaims the lease of
//! a dead container, spares other networks, and removes an unused network.
//!
//! sangja-only (runc and crun have no networking). Every test builds its own
//! test host namespace and runs sangja inside it (see `nethost`).

use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use sangja_integration::nethost::{
    assert_no_net_trace, hosts_entries, leases, net_dir, parse_inet, set_net_annotations, NetCtr,
    NetHost, NetSnapshot, DEFAULT_NET,
};
use sangja_integration::{assert_clean, util, Bundle, Runtime};

fn sangja_only(rt: &Runtime) -> bool {
    if rt.is_sangja() {
        return true;
    }
    util::print_skip("sangja-only (built-in networking)");
    false
}

/// Wait for the `ip -4 -o addr show dev eth0` line a container printed into `out`.
fn address_in(out: &std::path::Path) -> Ipv4Addr {
    util::wait_for(
        &format!("an eth0 address in {}", out.display()),
        Duration::from_secs(20),
        || parse_inet(&fs::read_to_string(out).unwrap_or_default(), "eth0"),
    )
}

/// A sleeping container that first prints its eth0 address.
fn sleeper(c: &NetCtr) -> Bundle {
    let mut b = c.bundle();
    b.set_script("ip -4 -o addr show dev eth0; exec sleep 600");
    b
}

/// Assert that the network holds no container at all any more.
#[track_caller]
fn assert_network_empty(host: &NetHost, rt: &Runtime) {
    assert!(host.veths().is_empty(), "veths left: {:?}", host.veths());
    assert!(
        leases(rt, DEFAULT_NET).is_empty(),
        "leases left: {:?}",
        leases(rt, DEFAULT_NET)
    );
    assert!(
        hosts_entries(rt, DEFAULT_NET).is_empty(),
        "hosts entries left: {:?}",
        hosts_entries(rt, DEFAULT_NET)
    );
    let nft = host.nft_elements();
    for set in ["masq", "ports", "hostports"] {
        assert!(
            nft.get(set).is_none_or(|s| s.is_empty()),
            "nft {set} still holds elements: {nft:#?}"
        );
    }
    let resolv: Vec<_> = fs::read_dir(net_dir(rt, DEFAULT_NET).join("resolv"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(resolv.is_empty(), "resolv.conf files left: {resolv:?}");
}

#[test]
fn fifty_parallel_containers_get_distinct_addresses_and_leave_nothing() {
    const N: usize = 50;
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let ctrs: Vec<NetCtr> = (0..N)
        .map(|_| NetCtr::with_tag(&host, &rt, "fifty"))
        .collect();
    let bundles: Vec<Bundle> = ctrs.iter().map(sleeper).collect();
    let outs: Vec<_> = (0..N).map(|i| rt.scratch(&format!("c{i}.out"))).collect();

    let started = Instant::now();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (c, b, out) = (&ctrs[i], &bundles[i], &outs[i]);
                s.spawn(move || c.run_detached(b, &["--network", "bridge"], out))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let create_time = started.elapsed();
    for o in &results {
        assert!(o.success(), "run -d failed:\n{o:?}");
    }

    // What each container sees on its eth0.
    let seen: Vec<Ipv4Addr> = outs.iter().map(|o| address_in(o)).collect();
    let distinct: BTreeSet<Ipv4Addr> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), N, "duplicate addresses: {seen:?}");
    let net = Ipv4Addr::new(10, 123, 0, 0);
    for a in &seen {
        let o = a.octets();
        assert!(
            u32::from(*a) & 0xffff_ff00 == u32::from(net) && o[3] > 1 && o[3] < 255,
            "{a} is not an assignable address of 10.123.0.0/24"
        );
    }
    // The leases and the hosts file agree with what the containers see.
    let mut want: Vec<(String, Ipv4Addr)> = ctrs
        .iter()
        .zip(&seen)
        .map(|(c, a)| (c.id().to_string(), *a))
        .collect();
    want.sort();
    assert_eq!(leases(&rt, DEFAULT_NET), want);
    let hosts = hosts_entries(&rt, DEFAULT_NET);
    for (id, a) in &want {
        assert!(
            hosts.contains(&format!("{a} {id}")),
            "hosts file lacks {a} {id}: {hosts:?}"
        );
    }
    assert_eq!(hosts.len(), N, "{hosts:?}");
    assert_eq!(host.veths().len(), N, "{:?}", host.veths());
    let masq = host.nft_elements().remove("masq").unwrap_or_default();
    assert_eq!(
        masq,
        distinct
            .iter()
            .map(|a| a.to_string())
            .collect::<BTreeSet<_>>()
    );

    let started = Instant::now();
    let deleted: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ctrs
            .iter()
            .map(|c| s.spawn(move || c.delete(true)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let delete_time = started.elapsed();
    for o in &deleted {
        assert!(o.success(), "delete --force failed:\n{o:?}");
    }
    eprintln!("{N} parallel run -d: {create_time:?}; {N} parallel delete --force: {delete_time:?}");
    assert_network_empty(&host, &rt);
    for (c, b) in ctrs.iter().zip(&bundles) {
        assert!(
            !c.state_dir().exists(),
            "{} remains",
            c.state_dir().display()
        );
        assert_clean(&rt, c.id(), b);
    }
}

#[test]
fn address_outside_the_subnet_is_refused_and_leaves_nothing() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    for (flags, words) in [
        // The network's subnet is only known once it exists: refused by IPAM.
        (vec!["--ip", "10.99.0.5"], vec!["10.99.0.5"]),
        // Given with --subnet: refused as an invalid config.
        (
            vec!["--subnet", "10.123.0.0/24", "--ip", "10.99.0.5"],
            vec![
                "invalid config: annotations.run.sangja.network.ip",
                "10.99.0.5",
            ],
        ),
        // The gateway (the bridge's address), the network and broadcast addresses.
        (vec!["--ip", "10.123.0.1"], vec!["10.123.0.1"]),
        (vec!["--ip", "10.123.0.0"], vec!["10.123.0.0"]),
        (vec!["--ip", "10.123.0.255"], vec!["10.123.0.255"]),
        (vec!["--ip", "10.123.0.300"], vec!["10.123.0.300"]),
    ] {
        let c = NetCtr::new(&host, &rt);
        let mut b = c.bundle();
        b.set_args(&["true"]);
        let mut all = vec!["--network", "bridge"];
        all.extend(&flags);
        let o = c.run(&b, &all);
        rt.assert_error(&o, &[words[0]]);
        rt.assert_sangja_wording(&o, &words);
        assert_no_net_trace(&host, &rt, DEFAULT_NET, c.id(), None, None);
        assert_network_empty(&host, &rt);
        assert_clean(&rt, c.id(), &b);
    }
}

#[test]
fn address_taken_is_refused_and_leaves_nothing() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let a = NetCtr::new(&host, &rt);
    let ab = sleeper(&a);
    let a_out = rt.scratch("a.out");
    a.run_detached(&ab, &["--ip", "10.123.0.50"], &a_out).ok();
    assert_eq!(address_in(&a_out), Ipv4Addr::new(10, 123, 0, 50));

    let before = NetSnapshot::take(&host, &rt, DEFAULT_NET);
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_args(&["true"]);
    let o = c.run(&b, &["--network", "bridge", "--ip", "10.123.0.50"]);
    rt.assert_error(&o, &["10.123.0.50"]);
    rt.assert_sangja_wording(&o, &[a.id()]);
    assert_eq!(NetSnapshot::take(&host, &rt, DEFAULT_NET), before, "{o:?}");
    assert_clean(&rt, c.id(), &b);

    // The same address is free again once its owner is deleted.
    a.delete(true).ok();
    assert_network_empty(&host, &rt);
    let o = c.run(&b, &["--ip", "10.123.0.50"]).ok();
    assert!(o.stderr.is_empty(), "{o:?}");
    assert_network_empty(&host, &rt);
    assert_clean(&rt, a.id(), &ab);
}

#[test]
fn failure_after_the_veth_exists_rolls_everything_back() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    // A first container makes the bridge and the nftables table.
    let a = NetCtr::new(&host, &rt);
    let ab = sleeper(&a);
    let a_out = rt.scratch("a.out");
    a.run_detached(&ab, &["--network", "bridge"], &a_out).ok();
    address_in(&a_out);
    // Host port 9999 published behind sangja's back: the leases do not know it,
    // so the new container's lease, hosts entry, resolv.conf, veth, address and
    // route are all made before the kernel refuses its nftables batch (the last
    // step of attach).
    host.sh_ok("nft add element ip sangja ports '{ tcp . 9999 : 10.123.0.250 . 80 }'");
    let before = NetSnapshot::take(&host, &rt, DEFAULT_NET);

    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_args(&["true"]);
    let log = rt.scratch("debug.log");
    let o = c
        .sangja()
        .arg("--debug")
        .arg("--log")
        .arg(&log)
        .args(["run", "-p", "9999:80", "--bundle"])
        .arg(b.path())
        .arg(c.id())
        .output();
    rt.assert_error(&o, &["9999"]);
    assert_eq!(
        NetSnapshot::take(&host, &rt, DEFAULT_NET),
        before,
        "a failed attach must undo everything:\n{o:?}\ndebug log:\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert_clean(&rt, c.id(), &b);

    // The first container is untouched and still works.
    assert_eq!(a.state()["status"], "running");
    a.delete(true).ok();
    host.sh_ok("nft delete element ip sangja ports '{ tcp . 9999 }'");
    assert_network_empty(&host, &rt);
    assert_clean(&rt, a.id(), &ab);
}

#[test]
fn sigkilled_container_is_fully_cleaned_by_delete_force() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_hostname("victim");
    b.set_script("ip -4 -o addr show dev eth0; exec sleep 600");
    let out = rt.scratch("c.out");
    c.run_detached(&b, &["-p", "8090:80", "-p", "8091:81/udp"], &out)
        .ok();
    let addr = address_in(&out);
    // Everything is there before the kill, so the checks below have teeth.
    let veths = host.veths();
    assert_eq!(veths.len(), 1, "{veths:?}");
    let veth = veths.iter().next().unwrap().clone();
    assert_eq!(leases(&rt, DEFAULT_NET), vec![(c.id().to_string(), addr)]);
    assert_eq!(
        hosts_entries(&rt, DEFAULT_NET),
        vec![format!("{addr} {} victim", c.id())]
    );
    assert_eq!(host.nft_elements_mentioning(&addr.to_string()).len(), 3);

    let pid = c.pid();
    util::send_signal(pid, libc::SIGKILL);
    c.wait_status("stopped");
    c.delete(true).ok();
    assert_no_net_trace(&host, &rt, DEFAULT_NET, c.id(), Some(addr), Some(&veth));
    assert_network_empty(&host, &rt);
    assert_clean(&rt, c.id(), &b);
}

#[test]
fn network_rm_refuses_while_used_then_removes_bridge_and_subnet() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let a = NetCtr::new(&host, &rt);
    let ab = sleeper(&a);
    let a_out = rt.scratch("a.out");
    a.run_detached(&ab, &["--network", "bridge"], &a_out).ok();
    let addr = address_in(&a_out);
    assert!(host.links().contains(DEFAULT_NET));

    let o = host
        .sangja(&rt)
        .args(["network", "rm", DEFAULT_NET])
        .output();
    rt.assert_error(&o, &["still used"]);
    rt.assert_sangja_wording(&o, &[a.id()]);
    assert!(
        host.links().contains(DEFAULT_NET),
        "bridge removed while used"
    );
    assert_eq!(leases(&rt, DEFAULT_NET), vec![(a.id().to_string(), addr)]);
    assert_eq!(a.state()["status"], "running");

    a.delete(true).ok();
    // The last container leaving keeps the bridge (by design).
    assert!(host.links().contains(DEFAULT_NET));
    let o = host
        .sangja(&rt)
        .args(["network", "rm", DEFAULT_NET])
        .output()
        .ok();
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    assert_eq!(host.links(), BTreeSet::from(["lo".to_string()]));
    let subnets = host.nft_elements().remove("subnets").unwrap_or_default();
    assert!(subnets.is_empty(), "subnet still in the table: {subnets:?}");
    assert!(!net_dir(&rt, DEFAULT_NET).exists());

    let o = host
        .sangja(&rt)
        .args(["network", "rm", DEFAULT_NET])
        .output();
    rt.assert_error(&o, &["does not exist"]);
    let o = host
        .sangja(&rt)
        .args(["network", "rm", "nosuchnet"])
        .output();
    rt.assert_error(&o, &["does not exist"]);

    // The network comes back on next use.
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_script("ip -4 -o addr show dev eth0");
    let o = c.run(&b, &["--network", "bridge"]).ok();
    assert!(parse_inet(&o.stdout, "eth0").is_some(), "{o:?}");
    assert_network_empty(&host, &rt);
    assert_clean(&rt, a.id(), &ab);
}

#[test]
fn network_rm_of_the_last_network_removes_the_nft_table() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    b.set_args(&["true"]);
    c.run(&b, &["--network", "bridge"]).ok();
    assert!(
        host.nft_table().is_some(),
        "the table exists once a container used NAT"
    );
    host.sangja(&rt)
        .args(["network", "rm", DEFAULT_NET])
        .output()
        .ok();
    assert_eq!(host.links(), BTreeSet::from(["lo".to_string()]));
    assert!(
        host.nft_table().is_none(),
        "no sangja network is left, yet `table ip sangja` (with its hooked chains) remains:\n{}",
        host.nft_table().unwrap_or_default()
    );
}

#[test]
fn network_rm_reclaims_a_dead_containers_lease_and_spares_other_networks() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    // One container on the default network, one on a second network.
    let a = NetCtr::new(&host, &rt);
    let ab = sleeper(&a);
    let a_out = rt.scratch("a.out");
    a.run_detached(&ab, &["--network", "bridge"], &a_out).ok();
    let a_addr = address_in(&a_out);
    let d = NetCtr::new(&host, &rt);
    let db = sleeper(&d);
    let d_out = rt.scratch("d.out");
    d.run_detached(&db, &["--network", "bridge=net2", "-p", "8000:80"], &d_out)
        .ok();
    let d_addr = address_in(&d_out);
    assert_eq!(
        u32::from(d_addr) & 0xffff_ff00,
        u32::from(Ipv4Addr::new(10, 123, 1, 0)),
        "a second network takes the next free /24: {d_addr}"
    );
    assert!(
        !hosts_entries(&rt, DEFAULT_NET)
            .iter()
            .any(|l| l.contains(d.id())),
        "networks do not share hosts entries"
    );

    // The net2 container dies without delete: `network rm` reclaims its lease.
    util::send_signal(d.pid(), libc::SIGKILL);
    d.wait_status("stopped");
    let o = host
        .sangja(&rt)
        .args(["network", "rm", "net2"])
        .output()
        .ok();
    assert!(o.stderr.is_empty(), "{o:?}");
    assert!(!host.links().contains("net2"));
    assert!(!net_dir(&rt, "net2").exists());
    let nft = host.nft_elements();
    assert!(
        host.nft_elements_mentioning(&d_addr.to_string()).is_empty(),
        "{nft:#?}"
    );
    assert!(
        !nft["subnets"].contains("10.123.1.0/24"),
        "net2's subnet remains: {nft:#?}"
    );
    // The default network and its container are untouched.
    assert!(nft["subnets"].contains("10.123.0.0/24"), "{nft:#?}");
    assert!(nft["masq"].contains(&a_addr.to_string()), "{nft:#?}");
    assert_eq!(leases(&rt, DEFAULT_NET), vec![(a.id().to_string(), a_addr)]);
    assert_eq!(a.state()["status"], "running");

    // The dead container's own delete still works, network gone or not.
    let o = d.delete(true).ok();
    assert!(o.stderr.is_empty(), "{o:?}");
    assert_clean(&rt, d.id(), &db);
    a.delete(true).ok();
    assert_network_empty(&host, &rt);
    assert_clean(&rt, a.id(), &ab);
}

#[test]
fn created_never_started_container_is_cleaned_by_delete() {
    let rt = Runtime::new();
    if !sangja_only(&rt) {
        return;
    }
    let host = NetHost::new();
    let c = NetCtr::new(&host, &rt);
    let mut b = c.bundle();
    set_net_annotations(
        &mut b,
        &[
            ("run.sangja.network", "bridge"),
            ("run.sangja.network.ports", "8095:80"),
        ],
    );
    b.set_args(&["true"]);
    let out = rt.scratch("c.out");
    c.create(&b, &out).ok();
    // The network is attached at create: veth, lease, hosts entry, elements.
    assert_eq!(host.veths().len(), 1, "{:?}", host.veths());
    let l = leases(&rt, DEFAULT_NET);
    assert_eq!(l.len(), 1, "{l:?}");
    let (id, addr) = l[0].clone();
    assert_eq!(id, c.id());
    assert_eq!(host.nft_elements_mentioning(&addr.to_string()).len(), 2);
    c.delete(false).ok();
    assert_no_net_trace(&host, &rt, DEFAULT_NET, c.id(), Some(addr), None);
    assert_network_empty(&host, &rt);
    assert_clean(&rt, c.id(), &b);
}
