//! Bad `linux.resources`: negative or absurd values, values cgroup v2 cannot honour,
//! unknown `unified` keys, cpusets outside the machine, malformed device rules. Each
//! `create` must exit 1 with one line naming the field (`invalid config:
//! linux.resources.<field>`) and leave nothing behind: no state directory, no cgroup
//! directory, no process.
//!
//! Most are refused before any cgroup is touched, so they run on every host. The last
//! tests write values only the kernel can reject (`unified` files that do not exist or do
//! not take the value): the cgroup was already made then and must be removed again; they
//! need cgroup v2 with controllers (`make uml`).

use serde_json::{json, Value};

use sangja_integration::{
    assert_clean, cgroupenv, leftovers, setup, util, Bundle, Container, Runtime,
};

/// One bundle for a series of refused creates (a fresh bundle per case would cost a
/// busybox rootfs each, slow under User-Mode Linux).
struct Refusals {
    rt: Runtime,
    c: Container,
    b: Bundle,
}

impl Refusals {
    /// None (after a loud skip) for runtimes other than sangja: these are sangja's own
    /// checks; runc 1.1 accepts most of these configs.
    fn new() -> Option<Self> {
        let (rt, c) = setup();
        if !rt.is_sangja() {
            util::print_skip(&format!(
                "sangja's validation of linux.resources ({} accepts most of these configs)",
                rt.kind().name()
            ));
            return None;
        }
        let mut b = c.bundle();
        b.set_args(&["true"]);
        Some(Refusals { rt, c, b })
    }

    /// Create with `resources` as `linux.resources` (plus the bench's deny-all device rule
    /// unless `resources` has its own) and expect a refusal whose message contains every
    /// one of `needles`; no state directory and no cgroup directory may be left.
    #[track_caller]
    fn check(&mut self, resources: Value, needles: &[&str]) {
        let (rt, id) = (&self.rt, self.c.id());
        let mut res = resources.clone();
        if res.get("devices").is_none() {
            res["devices"] = json!([{ "allow": false, "access": "rwm" }]);
        }
        self.b.set("/linux/resources", res);
        let o = rt
            .command(["create", "--bundle"])
            .arg(self.b.path())
            .arg(id)
            .output();
        rt.assert_error(&o, &[needles[0]]);
        rt.assert_sangja_wording(&o, needles);
        let state = rt.root().join(id);
        assert!(
            !state.exists(),
            "refused create of {resources} left its state directory {}",
            state.display()
        );
        let left = leftovers::cgroup_dirs(id);
        assert!(
            left.is_empty(),
            "refused create of {resources} left cgroups {left:?}"
        );
    }

    /// The full leftover check (processes, mounts, state, cgroups) once at the end: it
    /// scans /proc, which is slow under User-Mode Linux.
    #[track_caller]
    fn done(self) {
        assert_clean(&self.rt, self.c.id(), &self.b);
    }
}

fn field(f: &str) -> String {
    format!("invalid config: linux.resources.{f}")
}

/// A CPU number this machine does not have.
fn missing_cpu() -> u32 {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let max = online
        .trim()
        .split([',', '-'])
        .filter_map(|n| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    max + 1
}

#[test]
fn negative_memory_values() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "memory": { "limit": -5 } }),
        &[&field("memory.limit"), "negative"],
    );
    r.check(
        json!({ "memory": { "reservation": -2 } }),
        &[&field("memory.reservation")],
    );
    r.check(
        json!({ "memory": { "limit": 67108864, "swap": -3 } }),
        &[&field("memory.swap")],
    );
    r.done();
}

#[test]
fn inconsistent_memory_values() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    // OCI swap is memory+swap: below the limit it is meaningless.
    r.check(
        json!({ "memory": { "limit": 67108864, "swap": 33554432 } }),
        &[&field("memory.swap")],
    );
    r.check(
        json!({ "memory": { "limit": 33554432, "reservation": 67108864 } }),
        &[&field("memory.reservation")],
    );
    r.done();
}

#[test]
fn memory_fields_cgroup_v2_cannot_honour() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "memory": { "kernel": 1048576 } }),
        &[&field("memory.kernel")],
    );
    r.check(
        json!({ "memory": { "swappiness": 60 } }),
        &[&field("memory.swappiness")],
    );
    r.check(
        json!({ "memory": { "disableOOMKiller": true } }),
        &[&field("memory.disableOOMKiller")],
    );
    r.done();
}

#[test]
fn absurd_memory_value_is_a_type_error_naming_the_field() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    // Beyond i64: not a number OCI allows.
    r.check(
        json!({ "memory": { "limit": 18446744073709551615u64 } }),
        &["linux.resources.memory.limit"],
    );
    r.check(
        json!({ "memory": { "limit": "64m" } }),
        &["linux.resources.memory.limit"],
    );
    r.done();
}

#[test]
fn negative_pids_limit() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "pids": { "limit": -2 } }),
        &[&field("pids.limit"), "negative"],
    );
    r.done();
}

#[test]
fn absurd_cpu_values() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(json!({ "cpu": { "quota": 10 } }), &[&field("cpu.quota")]);
    r.check(json!({ "cpu": { "quota": -7 } }), &[&field("cpu.quota")]);
    r.check(
        json!({ "cpu": { "period": 10000000 } }),
        &[&field("cpu.period")],
    );
    r.check(json!({ "cpu": { "period": 10 } }), &[&field("cpu.period")]);
    r.check(
        json!({ "cpu": { "quota": 50000, "burst": 90000 } }),
        &[&field("cpu.burst")],
    );
    r.check(json!({ "cpu": { "idle": 5 } }), &[&field("cpu.idle")]);
    r.check(
        json!({ "cpu": { "realtimeRuntime": 1000 } }),
        &[&field("cpu.realtimeRuntime")],
    );
    r.done();
}

#[test]
fn cpuset_outside_the_machine() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    let n = missing_cpu();
    r.check(
        json!({ "cpu": { "cpus": format!("0,{n}") } }),
        &[&field("cpu.cpus"), &format!("names {n}")],
    );
    r.check(
        json!({ "cpu": { "cpus": "0-100000" } }),
        &[&field("cpu.cpus")],
    );
    r.check(json!({ "cpu": { "cpus": "a-b" } }), &[&field("cpu.cpus")]);
    r.check(json!({ "cpu": { "cpus": "3-1" } }), &[&field("cpu.cpus")]);
    r.check(json!({ "cpu": { "mems": "0,77" } }), &[&field("cpu.mems")]);
    r.done();
}

#[test]
fn absurd_block_io_and_hugepage_values() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "blockIO": { "weight": 5000 } }),
        &[&field("blockIO.weight")],
    );
    r.check(
        json!({ "blockIO": { "weightDevice": [ { "major": -1, "minor": 0, "weight": 100 } ] } }),
        &[&field("blockIO.weightDevice[0]")],
    );
    r.check(
        json!({ "blockIO": { "throttleReadBpsDevice": [ { "major": 8, "minor": -4, "rate": 1000 } ] } }),
        &[&field("blockIO.throttleReadBpsDevice[0]")],
    );
    r.check(
        json!({ "hugepageLimits": [ { "pageSize": "3XB", "limit": 0 } ] }),
        &[&field("hugepageLimits[0].pageSize")],
    );
    r.check(
        json!({ "hugepageLimits": [ { "pageSize": "2MB", "limit": -9 } ] }),
        &[&field("hugepageLimits[0].limit")],
    );
    r.done();
}

#[test]
fn unknown_unified_keys() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "unified": { "foo.bar": "1" } }),
        &[&field("unified.foo.bar"), "not a cgroup v2 controller"],
    );
    r.check(
        json!({ "unified": { "memory": "1" } }),
        &[&field("unified.memory")],
    );
    r.check(
        json!({ "unified": { "../../../etc/x.y": "1" } }),
        &[&field("unified.")],
    );
    r.check(
        json!({ "unified": { "cgroup.procs": "1" } }),
        &[&field("unified.cgroup.procs"), "runtime"],
    );
    r.done();
}

#[test]
fn malformed_device_rules() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "devices": [ { "allow": false, "access": "rwm" },
                             { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx" } ] }),
        &[&field("devices[1]"), "access"],
    );
    r.check(
        json!({ "devices": [ { "allow": true, "type": "c", "major": -5, "access": "r" } ] }),
        &[&field("devices[0]"), "major"],
    );
    r.check(
        json!({ "devices": [ { "allow": true, "type": "c", "major": 1, "access": "" } ] }),
        &[&field("devices[0]"), "access"],
    );
    r.done();
}

#[test]
fn net_cls_and_net_prio_do_not_exist_on_v2() {
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "network": { "classID": 1048577 } }),
        &[&field("network")],
    );
    r.done();
}

// ---- values only the kernel rejects: the cgroup exists by then and must go again ----

#[test]
fn unified_key_without_such_file_is_refused_after_the_cgroup_was_made() {
    if !cgroupenv::need_controllers(&["memory", "pids"]) {
        return;
    }
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "unified": { "memory.nonexistent": "1" } }),
        &[&field("unified.memory.nonexistent"), "no interface file"],
    );
    // Together with structured limits that were already written.
    r.check(
        json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 10 },
                "unified": { "pids.bogus": "1" } }),
        &[&field("unified.pids.bogus")],
    );
    r.done();
}

#[test]
fn unified_value_the_kernel_rejects_is_refused_and_rolled_back() {
    if !cgroupenv::need_controllers(&["memory", "pids"]) {
        return;
    }
    let Some(mut r) = Refusals::new() else {
        return;
    };
    r.check(
        json!({ "unified": { "pids.max": "-5" } }),
        &["linux.resources.unified", "pids.max"],
    );
    r.check(
        json!({ "unified": { "memory.high": "lots" } }),
        &["linux.resources.unified", "memory.high"],
    );
    r.done();
}

#[test]
fn update_of_an_unknown_container_and_bad_resources_file() {
    let rt = Runtime::new();
    let o = rt.cmd(&["update", "--memory", "64m", "no-such-container"]);
    rt.assert_error(&o, &["does not exist"]);
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let bad = rt.scratch("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let o = rt.command(["update", "-r"]).arg(&bad).arg(c.id()).output();
    rt.assert_error(&o, &["resources"]);
    std::fs::write(&bad, "{\"unified\": {\"foo.bar\": \"1\"}}").unwrap();
    let o = rt.command(["update", "-r"]).arg(&bad).arg(c.id()).output();
    rt.assert_error(&o, &["foo.bar", "unified"]);
    rt.assert_sangja_wording(&o, &["invalid config: linux.resources.unified.foo.bar"]);
    assert_eq!(
        c.status(),
        "running",
        "a refused update leaves the container alone"
    );
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}

/// `update -r FILE` with a wrongly typed field must name the field, as `create` does for
/// config.json (`invalid config: linux.resources.pids.limit: ...`).
#[test]
fn update_resources_type_error_names_the_field() {
    let (rt, c) = setup();
    let mut b = c.bundle();
    b.set_args(&["sleep", "1000"]);
    c.start_running(&b);
    let bad = rt.scratch("bad.json");
    std::fs::write(&bad, "{\"pids\": {\"limit\": \"many\"}}").unwrap();
    let o = rt.command(["update", "-r"]).arg(&bad).arg(c.id()).output();
    rt.assert_error(&o, &["pids.limit"]);
    c.delete(true).ok();
    assert_clean(&rt, c.id(), &b);
}
