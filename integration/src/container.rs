//! The `Container` guard: a unique id bound to a runtime handle, with the
//! lifecycle verbs as methods, and `delete --force` on drop so a test cleans up
//! even when it panics.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::output::Out;
use crate::runtime::{default_timeout, Runtime};
use crate::util;

pub struct Container {
    rt: Runtime,
    id: String,
}

impl Container {
    /// A guard for a fresh id `itest-<test>-<pid>-<n>`.
    pub fn new(rt: &Runtime) -> Self {
        Self::with_id(rt, &util::unique_id(&util::test_name()))
    }

    /// A guard for a given id (it is still deleted on drop).
    pub fn with_id(rt: &Runtime, id: &str) -> Self {
        Container {
            rt: rt.clone(),
            id: id.to_string(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// A fresh bundle whose cgroups path belongs to this container.
    pub fn bundle(&self) -> Bundle {
        Bundle::new(&self.id)
    }

    #[track_caller]
    pub fn create(&self, b: &Bundle) -> Out {
        self.rt.create(&self.id, b)
    }
    #[track_caller]
    pub fn create_with_stdout(&self, b: &Bundle, stdout: &Path) -> Out {
        self.rt.create_with_stdout(&self.id, b, stdout)
    }
    #[track_caller]
    pub fn start(&self) -> Out {
        self.rt.start(&self.id)
    }
    #[track_caller]
    pub fn state(&self) -> Value {
        self.rt.state(&self.id)
    }
    #[track_caller]
    pub fn status(&self) -> String {
        self.rt.status(&self.id)
    }
    #[track_caller]
    pub fn pid(&self) -> i32 {
        self.rt.pid(&self.id)
    }
    #[track_caller]
    pub fn kill(&self, sig: &str) -> Out {
        self.rt.kill(&self.id, sig)
    }
    pub fn delete(&self, force: bool) -> Out {
        self.rt.delete(&self.id, force)
    }
    pub fn run(&self, b: &Bundle) -> Out {
        self.rt.run(&self.id, b)
    }
    #[track_caller]
    pub fn wait_status(&self, want: &str) -> Value {
        self.rt.wait_status(&self.id, want, Duration::from_secs(10))
    }

    /// `create` + `start`, then wait for `running`.
    #[track_caller]
    pub fn start_running(&self, b: &Bundle) {
        self.create(b);
        self.start();
        self.wait_status("running");
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // Never panic here: this runs while a failed test unwinds.
        let mut c = Command::new(self.rt.path());
        c.arg("--root")
            .arg(self.rt.root())
            .args(["delete", "--force", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut child) = c.spawn() {
            let deadline = Instant::now() + default_timeout();
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        eprintln!("WARNING: delete --force {} hung; killed", self.id);
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        // What a buggy runtime left in this container's own cgroup: kill it and
        // remove the directories, so one broken test does not leak into the next.
        let dirs = crate::leftovers::cgroup_dirs(&self.id);
        if dirs.is_empty() {
            return;
        }
        for dir in &dirs {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    eprintln!("WARNING: killing leaked pid {pid} in {}", dir.display());
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in &dirs {
            while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
