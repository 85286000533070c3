//! Timing figure for the networking note (not an assertion, so `#[ignore]`d):
//! the median wall time of `sangja run` of /bin/true with `--network bridge`
//! vs `--network none`, and the same veth/bridge setup done with `ip` commands.
//!
//! ```sh
//! SANGJA_RUNTIME=target/integ/debug/sangja CARGO_TARGET_DIR=target/integ \
//!   cargo test -p sangja-integration --test network_timing -- --ignored --nocapture
//! ```
//!
//! Everything runs inside a test host namespace, like the other network tests.

use std::time::Duration;

use sangja_integration::nethost::{median, set_net_annotations, NetCtr, NetHost};
use sangja_integration::{util, Bundle, Runtime};

const RUNS: usize = 20;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "timing figure, run by hand with --ignored --nocapture"]
fn timing_run_bridge_vs_none_vs_ip_commands() {
    let rt = Runtime::new();
    if !rt.is_sangja() {
        util::print_skip("sangja-only (built-in networking)");
        return;
    }
    let host = NetHost::new();

    // One container id per mode; each `run` deletes it at the end.
    let none = NetCtr::with_tag(&host, &rt, "t-none");
    let bridge = NetCtr::with_tag(&host, &rt, "t-bridge");
    let nonat = NetCtr::with_tag(&host, &rt, "t-nonat");
    let mut b_none = none.bundle();
    let mut b_bridge = bridge.bundle();
    let mut b_nonat = nonat.bundle();
    for b in [&mut b_none, &mut b_bridge, &mut b_nonat] {
        b.set_args(&["/bin/true"]);
    }
    set_net_annotations(
        &mut b_nonat,
        &[
            ("run.sangja.network", "bridge"),
            ("run.sangja.network.nat", "false"),
        ],
    );
    let modes: [(&str, &NetCtr, &Bundle, &[&str]); 3] = [
        ("--network none", &none, &b_none, &["--network", "none"]),
        (
            "--network bridge",
            &bridge,
            &b_bridge,
            &["--network", "bridge"],
        ),
        ("bridge, nat=false (no nft)", &nonat, &b_nonat, &[]),
    ];
    // Warm up (the first bridge run also makes the bridge and the table).
    for (_, c, b, flags) in &modes {
        for _ in 0..2 {
            c.run(b, flags).ok();
        }
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    for _ in 0..RUNS {
        for (i, (_, c, b, flags)) in modes.iter().enumerate() {
            times[i].push(c.run(b, flags).ok().elapsed);
        }
    }
    let base: Vec<Duration> = (0..RUNS)
        .map(|_| host.cmd("/bin/true", [] as [&str; 0]).output().ok().elapsed)
        .collect();
    let base = median(base);

    // The same plumbing by hand: a bridge with an address (once), then per
    // container a veth into a fresh netns, on the bridge, addressed, up, with
    // a default route; and its removal.
    host.sh_ok(
        "ip link add ipbr0 type bridge && ip addr add 10.124.0.1/24 dev ipbr0 && \
         ip link set ipbr0 up",
    );
    let mut setup = Vec::new();
    let mut teardown = Vec::new();
    for i in 0..RUNS {
        let ctr = NetHost::bare(); // the container's netns, made untimed
        let n = ctr.name();
        let o = host.sh(&format!(
            "ip link add vt{i} type veth peer name eth0 netns {n} && \
             ip link set vt{i} master ipbr0 && ip link set vt{i} up && \
             ip -n {n} addr add 10.124.0.{a}/24 dev eth0 && ip -n {n} link set eth0 up && \
             ip -n {n} link set lo up && ip -n {n} route add default via 10.124.0.1",
            a = i + 2
        ));
        setup.push(o.ok().elapsed);
        teardown.push(host.sh(&format!("ip link del vt{i}")).ok().elapsed);
    }
    let sh_base: Vec<Duration> = (0..RUNS).map(|_| host.sh("true").ok().elapsed).collect();
    // The nft part of a NATed bridge container: add its masq element, list the
    // table (teardown looks before deleting), delete it.
    let nft_cmd = "nft add element ip sangja masq '{ 10.123.0.200 }' && \
                   nft list table ip sangja >/dev/null && \
                   nft delete element ip sangja masq '{ 10.123.0.200 }'";
    host.sh_ok(nft_cmd); // warm up
    let mut nft = Vec::new();
    for _ in 0..RUNS {
        nft.push(host.sh(nft_cmd).ok().elapsed);
    }

    let med: Vec<Duration> = times.into_iter().map(median).collect();
    eprintln!(
        "\n=== sangja networking timing ({RUNS} runs each, medians, sangja {}) ===",
        rt.path().display()
    );
    eprintln!("nsenter + /bin/true baseline:             {}", ms(base));
    for ((name, ..), m) in modes.iter().zip(&med) {
        eprintln!("sangja run /bin/true, {name:<28} {}", ms(*m));
    }
    eprintln!(
        "added by bridge networking (bridge - none): {}   (nat=false: {})",
        ms(med[1].saturating_sub(med[0])),
        ms(med[2].saturating_sub(med[0]))
    );
    let sh = median(sh_base);
    let (s, t) = (median(setup), median(teardown));
    eprintln!("nsenter + sh -c true baseline:            {}", ms(sh));
    eprintln!(
        "ip commands, veth+bridge+addr+up+route:   {}  (minus baseline {})",
        ms(s),
        ms(s.saturating_sub(sh))
    );
    eprintln!(
        "ip link del of the veth:                  {}  (minus baseline {})",
        ms(t),
        ms(t.saturating_sub(sh))
    );
    eprintln!(
        "ip commands, setup + teardown:            {}  (minus baselines {})",
        ms(s + t),
        ms((s + t).saturating_sub(sh * 2))
    );
    let n = median(nft);
    eprintln!(
        "nft add + list + delete of one element:   {}  (minus baseline {})",
        ms(n),
        ms(n.saturating_sub(sh))
    );
}
