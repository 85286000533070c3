//! The state root: one directory per container, created atomically (mkdir is the arbiter
//! between two concurrent `create`s of one id), `state.json` saved by temp + rename, and an
//! flock on the container directory serialising state-changing commands.
//!
//! No fsync: the record describes processes that do not outlive a reboot and the root is
//! normally a tmpfs; the rename alone keeps a crashed `sangja` from leaving half a file. (The
//! fsync cost 6 ms per save on ext4.)

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};

use super::record::State;
use crate::error::Error;

const STATE_FILE: &str = "state.json";
/// The start gate: its presence means "created" (see `process::gate`).
pub const FIFO_NAME: &str = "exec.fifo";

/// The state root (`--root`, default /run/sangja).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a command changes a container; released on drop.
pub struct ContainerLock {
    _lock: Flock<File>,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of container `id` (the id must have been validated).
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn fifo_path(&self, id: &str) -> PathBuf {
        self.dir(id).join(FIFO_NAME)
    }

    /// Make the container directory; fails with `AlreadyExists` when another create got there
    /// first. Returns the lock on it.
    pub fn create_dir(&self, id: &str) -> anyhow::Result<ContainerLock> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .with_context(|| format!("create state root {}", self.root.display()))?;
        let dir = self.dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.to_string()).into())
            }
            Err(e) => return Err(e).with_context(|| format!("create {}", dir.display())),
        }
        self.lock(id)
    }

    /// Take the exclusive lock of an existing container; `NotFound` if there is none.
    pub fn lock(&self, id: &str) -> anyhow::Result<ContainerLock> {
        let dir = self.dir(id);
        let file = match File::open(&dir) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()).into())
            }
            Err(e) => return Err(e).with_context(|| format!("open {}", dir.display())),
        };
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("lock {}", dir.display()))?;
        Ok(ContainerLock { _lock: lock })
    }

    /// Atomically write `state.json`.
    pub fn save(&self, state: &State) -> anyhow::Result<()> {
        let dir = self.dir(&state.id);
        let tmp = dir.join(".state.json.tmp");
        let bytes = serde_json::to_vec(state).context("encode state")?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(&bytes)
            .with_context(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, dir.join(STATE_FILE))
            .with_context(|| format!("rename {} into place", tmp.display()))
    }

    /// Load the record of `id`; `NotFound` when the container does not exist or is still
    /// being created (no state.json yet).
    pub fn load(&self, id: &str) -> anyhow::Result<State> {
        let path = self.dir(id).join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()).into())
            }
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
    }

    /// Ids of every container that has a state record, sorted.
    pub fn list(&self) -> anyhow::Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("read {}", self.root.display())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Remove the container directory and everything in it.
    pub fn remove(&self, id: &str) -> anyhow::Result<()> {
        let dir = self.dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("remove {}", dir.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> State {
        State {
            id: id.into(),
            oci_version: "1.2.0".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid: 42,
            pid_start_time: 7,
            created: "2026-01-01T00:00:00.000000000Z".into(),
            owner: String::new(),
            annotations: Default::default(),
            own_pid_ns: true,
            cgroup_path: Some("/sangja/c".into()),
            network: None,
            late_hooks: None,
        }
    }

    #[test]
    fn save_load_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("root"));
        let lock = store.create_dir("c1").unwrap();
        assert!(store.list().unwrap().is_empty(), "no state.json yet");
        store.save(&sample("c1")).unwrap();
        drop(lock);
        assert_eq!(store.load("c1").unwrap(), sample("c1"));
        assert_eq!(store.list().unwrap(), vec!["c1".to_string()]);
        store.remove("c1").unwrap();
        let err = store.load("c1").unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn second_create_of_one_id_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let _l = store.create_dir("x").unwrap();
        let err = store.create_dir("x").err().unwrap();
        assert!(err.to_string().contains("already exists"), "{err}");
    }

    #[test]
    fn lock_of_missing_container_is_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let err = store.lock("nope").err().unwrap();
        assert!(matches!(
            err.downcast_ref::<Error>(),
            Some(Error::NotFound(_))
        ));
    }
}
