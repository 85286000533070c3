//! Integration test bench for sangja: drives a runtime binary (sangja, or runc /
//! crun to check the tests themselves) only through its CLI. See README.md.
//!
//! - `runtime`: which binary, its private `--root`, every invocation under a timeout
//! - `bundle`: busybox rootfs + default config.json, edited as JSON
//! - `console`: a `--console-socket` listener receiving the pty master
//! - `container`: an id guard that force-deletes on drop
//! - `leftovers`: state dirs, processes, mounts and cgroups a container must not leave
//! - `netns`: named network namespaces for join tests
//! - `nethost`: test-host namespaces, commands and container guards for sangja networking
//! - `output`: a finished command and the assertions on it
//! - `util`: ids, root check, loud skips, polling, safe removal

pub mod bundle;
pub mod cgroupenv;
pub mod console;
pub mod container;
pub mod leftovers;
pub mod nethost;
pub mod netns;
pub mod output;
pub mod runtime;
pub mod util;

pub use bundle::Bundle;
pub use container::Container;
pub use leftovers::assert_clean;
pub use netns::NetNs;
pub use output::Out;
pub use runtime::{Kind, Runtime};

/// A runtime handle and a container guard for the current test.
pub fn setup() -> (Runtime, Container) {
    let rt = Runtime::new();
    let c = Container::new(&rt);
    (rt, c)
}
