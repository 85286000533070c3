//! `linux.rootfsPropagation` with the rootfs on a *shared* mount. pivot_root refuses a shared
//! parent, so a runtime must make the rootfs's mount private first, unless the propagation it
//! applied to `/` already left nothing shared (recursive slave or private, the default
//! `rslave` among them: sangja then skips that step and its mountinfo read). Each value must
//! run, and the change must stay in the container's mount namespace.

mod rootfs_common;

use rootfs_common::*;
use sangja_integration::{assert_clean, Container, Runtime};
use serde_json::json;

/// Optional field 7+ of a mountinfo line: `shared:N` when the mount is shared.
fn is_shared(line: &str) -> bool {
    line.split(" - ")
        .next()
        .is_some_and(|left| left.split(' ').skip(6).any(|f| f.starts_with("shared:")))
}

#[test]
fn rootfs_on_a_shared_mount_runs_with_every_root_propagation() {
    in_own_mount_namespace(|| {
        let rt = Runtime::new();
        for prop in [
            None,
            Some("rslave"),
            Some("rprivate"),
            Some("slave"),
            Some("private"),
            Some("rshared"),
            Some("shared"),
        ] {
            let c = Container::new(&rt);
            let mut b = c.bundle();
            let root = b.rootfs();
            bind_onto_itself(&root);
            mount_flags(&root, libc::MS_SHARED);
            if let Some(p) = prop {
                b.set("/linux/rootfsPropagation", json!(p));
            }
            b.set_script("echo inside");
            let o = c.run(&b);
            // This thread's own view (not /proc/self: that is the main thread's namespace).
            let ours = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
            let table = parse_mountinfo(&ours);
            let host_side = mount_at(&table, root.to_str().unwrap(), &ours).line.clone();
            detach(&root);
            assert_eq!(o.code, Some(0), "rootfsPropagation {prop:?}:\n{o:?}");
            assert_eq!(
                o.stdout.trim(),
                "inside",
                "rootfsPropagation {prop:?}: {o:?}"
            );
            assert!(
                is_shared(&host_side),
                "rootfsPropagation {prop:?}: the rootfs mount outside is no longer shared: \
                 {host_side}"
            );
            assert_clean(&rt, c.id(), &b);
        }
    });
}
