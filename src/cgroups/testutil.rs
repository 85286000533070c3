//! Test helper: a fake cgroup directory in a tempdir holding the interface files a test
//! names (empty), so writers can be checked without root or a cgroup filesystem.

use std::path::Path;

pub struct FakeCgroup {
    dir: tempfile::TempDir,
}

impl FakeCgroup {
    pub fn new(files: &[&str]) -> FakeCgroup {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        FakeCgroup { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn get(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir().join(file)).unwrap()
    }

    pub fn set(&self, file: &str, text: &str) {
        std::fs::write(self.dir().join(file), text).unwrap();
    }
}
