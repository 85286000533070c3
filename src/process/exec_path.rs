//! Find the executable of `process.args[0]` inside the container, before init reports ready,
//! so a bad entrypoint fails `create` rather than `start`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::bail;

/// Resolve `arg0` like execvp with the container's `PATH` (from `env`): a name with a slash
/// is taken as is (relative to `cwd`), anything else is searched in `PATH`.
pub fn resolve_executable(arg0: &str, env: &[String], cwd: &Path) -> anyhow::Result<PathBuf> {
    if arg0.is_empty() {
        bail!("process.args[0] is empty");
    }
    if arg0.contains('/') {
        let path = cwd.join(arg0);
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => bail!("exec {arg0}: is a directory"),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => bail!("exec {arg0}: permission denied"),
            Ok(_) => Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("exec {arg0}: no such file or directory")
            }
            Err(e) => bail!("exec {arg0}: {e}"),
        };
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in path_var.split(':') {
        let candidate = if dir.is_empty() {
            cwd.join(arg0)
        } else {
            cwd.join(dir).join(arg0)
        };
        if let Ok(m) = std::fs::metadata(&candidate) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    bail!("exec {arg0:?}: executable file not found in $PATH")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("bin")).unwrap();
        fs::write(t.path().join("bin/tool"), "x").unwrap();
        fs::set_permissions(t.path().join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(t.path().join("bin/data"), "x").unwrap();
        fs::set_permissions(t.path().join("bin/data"), fs::Permissions::from_mode(0o644)).unwrap();
        t
    }

    #[test]
    fn searches_path_and_takes_slashes_as_is() {
        let t = tree();
        let env = vec![format!("PATH=/nope:{}/bin", t.path().display())];
        assert_eq!(
            resolve_executable("tool", &env, Path::new("/")).unwrap(),
            t.path().join("bin/tool")
        );
        assert!(resolve_executable("bin/tool", &[], t.path()).is_ok());
    }

    #[test]
    fn errors_use_the_words_callers_match() {
        let t = tree();
        let env = vec![format!("PATH={}/bin", t.path().display())];
        let e = resolve_executable("missing", &env, t.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("executable file not found"), "{e}");
        let e = resolve_executable("data", &env, t.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("executable file not found"), "{e}");
        let e = resolve_executable("/no/such", &env, t.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file or directory"), "{e}");
        let e = resolve_executable("bin/data", &env, t.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("permission denied"), "{e}");
    }
}
