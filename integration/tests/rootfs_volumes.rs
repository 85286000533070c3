//! `sangja run -v/--volume` and `--tmpfs`, and `sangja volume ls|rm`: a named volume written by
//! one run is read by the next and survives `delete`; `volume rm` refuses a volume a live
//! container uses. sangja-only (runc has no such flags); skipped loudly while the CLI lacks them.

use std::fs;

use sangja_integration::{assert_clean, setup, skip, Out, Runtime};

/// Whether this sangja's `run` takes `--volume` and has a `volume` command.
fn has_volume_flags(rt: &Runtime) -> bool {
    let help = rt.cmd(&["run", "--help"]);
    let vol = rt.cmd(&["volume", "ls"]);
    help.stdout.contains("--volume") && vol.success()
}

fn run_with(rt: &Runtime, id: &str, b: &sangja_integration::Bundle, flags: &[&str]) -> Out {
    rt.command(["run"])
        .args(flags)
        .arg("--bundle")
        .arg(b.path())
        .arg(id)
        .output()
}

#[test]
fn named_volume_outlives_its_containers() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: {} has no run --volume", rt.kind().name());
    }
    if !has_volume_flags(&rt) {
        skip!(
            "this sangja has no `run --volume` / `volume` command yet (the logic is in \
             rootfs::volumes; the CLI is to be wired)"
        );
    }
    let name = format!("itestvol{}", std::process::id());
    let mut b = c.bundle();
    b.set_script("echo written-by-first > /data/file");
    let vol = format!("{name}:/data");
    run_with(&rt, c.id(), &b, &["-v", &vol]).ok();
    assert_clean(&rt, c.id(), &b);

    let c2 = sangja_integration::Container::new(&rt);
    let mut b2 = c2.bundle();
    b2.set_script("cat /data/file; echo x > /ro/file || true");
    let ro = format!("{name}:/ro:ro");
    let o = run_with(&rt, c2.id(), &b2, &["-v", &vol, "--volume", &ro]).ok();
    assert_eq!(o.lines(), ["written-by-first"], "{o:?}");
    assert!(o.stderr.contains("Read-only file system"), "{o:?}");

    let ls = rt.cmd(&["volume", "ls"]).ok();
    assert!(ls.lines().contains(&name), "volume ls lists it: {ls:?}");
    let data = rt.root().join("_volumes").join(&name).join("_data/file");
    assert_eq!(fs::read_to_string(&data).unwrap(), "written-by-first\n");
    // The config.json of the bundle is not rewritten by the flags.
    assert!(!fs::read_to_string(b2.config_path())
        .unwrap()
        .contains(&name));

    // A live container keeps it from being removed.
    let c3 = sangja_integration::Container::new(&rt);
    let mut b3 = c3.bundle();
    b3.set_args(&["sleep", "1000"]);
    run_with(&rt, c3.id(), &b3, &["-d", "-v", &vol]).ok();
    let o = rt.cmd(&["volume", "rm", &name]);
    rt.assert_error(&o, &["in use"]);
    c3.delete(true).ok();
    rt.cmd(&["volume", "rm", &name]).ok();
    let ls = rt.cmd(&["volume", "ls"]).ok();
    assert!(!ls.lines().contains(&name), "{ls:?}");
}

#[test]
fn tmpfs_flag_mounts_a_tmpfs() {
    let (rt, c) = setup();
    if !rt.is_sangja() {
        skip!("sangja-only: {} has no run --tmpfs", rt.kind().name());
    }
    if !has_volume_flags(&rt) {
        skip!("this sangja has no `run --tmpfs` yet (the logic is in rootfs::volumes)");
    }
    let mut b = c.bundle();
    b.set_script("grep ' /scratch ' /proc/self/mountinfo");
    // mode=1777 is tmpfs's default, which mountinfo leaves out: ask for another one.
    let o = run_with(&rt, c.id(), &b, &["--tmpfs", "/scratch:size=1m,mode=700"]).ok();
    assert!(
        o.stdout.contains("tmpfs")
            && o.stdout.contains("mode=700")
            && o.stdout.contains("size=1024k"),
        "{o:?}"
    );
    let bad = run_with(&rt, c.id(), &b, &["--tmpfs", "relative"]);
    rt.assert_error(&bad, &["--tmpfs"]);
    assert_clean(&rt, c.id(), &b);
}
