//! Reading and parsing `config.json`.
//!
//! The file is read whole (capped at [`MAX_CONFIG_SIZE`]) and parsed with `serde_json`, whose
//! recursion limit turns absurd nesting into an error instead of a stack overflow. A read
//! failure becomes `Error::ConfigRead` (`<path>: no such file or directory`); a syntax, type or
//! value error becomes `Error::ConfigSyntax` with serde's line and column and, for type and
//! value errors, the JSON path of the offending field. Unknown fields are ignored, as the OCI
//! spec asks of runtimes.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use serde_json::error::Category;

use super::locate::json_path_at;
use super::Spec;
use crate::error::Error;

/// Largest `config.json` we read. Real configs are a few KiB; a seccomp profile can make
/// them a few hundred. Anything near this is a mistake, not a config.
pub const MAX_CONFIG_SIZE: u64 = 64 << 20;

/// Read and parse `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Spec, Error> {
    load_file(&bundle.join("config.json"))
}

/// Read and parse one config file.
pub fn load_file(path: &Path) -> Result<Spec, Error> {
    let bytes = read_capped(path)?;
    parse(path, &bytes)
}

/// Parse `text` as `T`; a type error names the JSON field at fault, under `prefix` (e.g.
/// `linux.resources`), as an invalid-config error.
pub fn parse_named<T: serde::de::DeserializeOwned>(text: &str, prefix: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        let msg = msg.strip_suffix(&at).unwrap_or(&msg).to_string();
        let field = json_path_at(text.as_bytes(), e.line(), e.column())
            .map(|f| format!("{prefix}.{f}"))
            .unwrap_or_else(|| prefix.to_string());
        Error::invalid(field, msg)
    })
}

/// A raw-JSON pass for configs the typed parse refuses (e.g. the security layer's name
/// checks). Its contract: it only rejects, with a better message, or rewrites into a form the
/// typed parse accepts, what the typed parse itself refuses; a config that parses as it is
/// passes it unchanged. That lets [`load_checked`] skip it for such configs.
pub type RawCheck<'a> = &'a dyn Fn(&mut serde_json::Value) -> Result<(), Error>;

/// Read `<bundle>/config.json` and parse it; when that fails, let `check` look at (and
/// normalise) the raw JSON and parse again. Positions in type errors are kept unless `check`
/// changed something. A config that parses at once costs one parse (~40 µs for runc's default
/// config) instead of a JSON tree, its copy, a comparison and a second parse (~170 µs).
pub fn load_checked(bundle: &Path, check: RawCheck) -> Result<Spec, Error> {
    let path = bundle.join("config.json");
    let bytes = read_capped(&path)?;
    if let Ok(spec) = serde_json::from_slice::<Spec>(&bytes) {
        return Ok(spec);
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| syntax_error(&path, &bytes, &e))?;
    let original = value.clone();
    check(&mut value)?;
    if value == original {
        return parse(&path, &bytes);
    }
    serde_json::from_value(value).map_err(|e| Error::InvalidConfig {
        field: "config".into(),
        reason: format!("{e} ({})", path.display()),
    })
}

/// Parse config bytes; `path` only names the file in errors.
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Spec, Error> {
    serde_json::from_slice(bytes).map_err(|e| syntax_error(path, bytes, &e))
}

fn read_capped(path: &Path) -> Result<Vec<u8>, Error> {
    let read_error = |reason: String| Error::ConfigRead {
        path: path.to_path_buf(),
        reason,
    };
    // Look before opening: opening a FIFO would block, a directory fails later and less clearly.
    let meta = fs::metadata(path).map_err(|e| read_error(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(read_error("is a directory".into()));
    }
    if !meta.is_file() {
        return Err(read_error("not a regular file".into()));
    }
    let too_large = || {
        read_error(format!(
            "larger than the {} MiB limit",
            MAX_CONFIG_SIZE >> 20
        ))
    };
    if meta.len() > MAX_CONFIG_SIZE {
        return Err(too_large());
    }
    let file = File::open(path).map_err(|e| read_error(io_reason(&e)))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow between stat and read: read one byte past the cap to notice.
    file.take(MAX_CONFIG_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(io_reason(&e)))?;
    if u64::try_from(bytes.len()).is_ok_and(|n| n > MAX_CONFIG_SIZE) {
        return Err(too_large());
    }
    Ok(bytes)
}

fn syntax_error(path: &Path, bytes: &[u8], e: &serde_json::Error) -> Error {
    let (line, column) = (e.line(), e.column());
    // serde_json's Display appends " at line L column C"; we report those as fields instead.
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let msg = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    // For a wrong type or value the JSON before the error is well formed, so the path of the
    // field being read can be recovered from the text, and the error is an invalid config
    // naming that field; for a syntax error a field would mislead.
    if e.classify() == Category::Data {
        if let Some(field) = json_path_at(bytes, line, column).filter(|f| !f.starts_with('[')) {
            return Error::InvalidConfig {
                field,
                reason: format!("{msg} ({}: line {line}, column {column})", path.display()),
            };
        }
    }
    Error::ConfigSyntax {
        path: path.to_path_buf(),
        line,
        column,
        msg,
    }
}

/// An io error as a lower-case reason without Rust's " (os error N)" tail, e.g.
/// "no such file or directory".
pub(super) fn io_reason(e: &io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{default_spec, to_pretty_json};
    use std::io::Write;

    fn write_config(dir: &Path, content: &[u8]) -> std::path::PathBuf {
        let path = dir.join("config.json");
        fs::write(&path, content).unwrap();
        path
    }

    fn syntax(result: Result<Spec, Error>) -> (usize, usize, String) {
        match result {
            Err(Error::ConfigSyntax {
                line, column, msg, ..
            }) => (line, column, msg),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    /// `load_checked` runs the raw check only for a config the typed parse refuses: its
    /// rewrite then makes it parse, and its rejection is the error.
    #[test]
    fn the_raw_check_rewrites_or_rejects_what_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        // Turn a numeric `hostname` into a string; refuse a `domainname` of "bad".
        let check = |v: &mut serde_json::Value| {
            if v["hostname"].is_number() {
                v["hostname"] = serde_json::json!(v["hostname"].to_string());
            }
            if v["domainname"] == "bad" {
                return Err(Error::invalid("domainname", "bad"));
            }
            Ok(())
        };
        let with = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut spec = serde_json::to_value(default_spec(false)).unwrap();
            edit(&mut spec);
            write_config(dir.path(), &serde_json::to_vec(&spec).unwrap());
            load_checked(dir.path(), &check)
        };
        assert_eq!(with(&|_| {}).unwrap(), default_spec(false));
        // Refused by the typed parse, rewritten by the check: parses.
        let rewritten = with(&|v| v["hostname"] = serde_json::json!(7)).unwrap();
        assert_eq!(rewritten.hostname().as_deref(), Some("7"));
        // A type error the check leaves alone keeps its position and field.
        let err = with(&|v| v["domainname"] = serde_json::json!(7)).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { field, .. } if field == "domainname"),
            "{err:?}"
        );
        // Refused by the check when the typed parse fails too.
        let refused = with(&|v| {
            v["domainname"] = serde_json::json!("bad");
            v["hostname"] = serde_json::json!(7);
        })
        .unwrap_err();
        assert_eq!(refused.to_string(), "invalid config: domainname: bad");
    }

    /// oci-spec checks `process.execCPUAffinity` with a regex (our `regex` is the regex-lite
    /// shim in shims/regex): CPU lists pass, anything else is refused naming the value.
    #[test]
    fn exec_cpu_affinity_lists_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let with = |v: &str| {
            let mut spec = serde_json::to_value(default_spec(false)).unwrap();
            spec["process"]["execCPUAffinity"] = serde_json::json!({"initial": v, "final": "1"});
            write_config(dir.path(), &serde_json::to_vec(&spec).unwrap());
            load(dir.path())
        };
        for ok in ["0", "0-1", "0-1,3", "2,4-7,9"] {
            let spec = with(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            let aff = spec.process().as_ref().unwrap().exec_cpu_affinity().clone();
            assert_eq!(aff.unwrap().initial().as_deref(), Some(ok));
        }
        for bad in ["a", "1-", ",1", "1,,2", "0-1 "] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
    }

    #[test]
    fn missing_file_names_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, Error::ConfigRead { .. }), "{err:?}");
        let text = err.to_string();
        let want = format!(
            "{}: no such file or directory",
            dir.path().join("config.json").display()
        );
        assert_eq!(text, want);
    }

    #[test]
    fn directory_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("config.json")).unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("config.json: is a directory"), "{err}");
    }

    #[test]
    fn empty_file_is_syntax_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), b"");
        let (line, column, msg) = syntax(load_file(&path));
        assert_eq!((line, column), (1, 0));
        assert!(msg.contains("EOF"), "{msg}");
        let text = load_file(&path).unwrap_err().to_string();
        assert!(
            text.starts_with(&format!("{}: line 1, column 0: ", path.display())),
            "{text}"
        );
    }

    #[test]
    fn garbage_is_syntax_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), b"{\n  \"ociVersion\": \"1.0.2\",\n  oops\n}");
        let (line, column, msg) = syntax(load_file(&path));
        assert_eq!(line, 3);
        assert!(column > 0);
        assert!(!msg.contains(" at line "), "position repeated in {msg}");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), "[".repeat(100_000).as_bytes());
        let (line, _, msg) = syntax(load_file(&path));
        assert_eq!(line, 1);
        assert!(!msg.is_empty());
        let nested_in_field = format!("{{\"process\": {}", "[".repeat(100_000));
        let path = write_config(dir.path(), nested_in_field.as_bytes());
        let msg = load_file(&path).unwrap_err().to_string();
        assert!(msg.contains("line 1, column"), "{msg}");
    }

    #[test]
    fn wrong_type_names_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), b"{\"ociVersion\": \"1.0.2\",\n \"process\": 5}");
        let msg = load_file(&path).unwrap_err().to_string();
        assert!(
            msg.starts_with("invalid config: process: invalid type: integer `5`"),
            "{msg}"
        );
        assert!(msg.contains("line 2, column"), "{msg}");
    }

    #[test]
    fn bad_enum_names_nested_field() {
        let mut value = serde_json::to_value(default_spec(false)).unwrap();
        value["linux"]["namespaces"][2]["type"] = "foo".into();
        let text = serde_json::to_string_pretty(&value).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), text.as_bytes());
        let msg = load_file(&path).unwrap_err().to_string();
        assert!(
            msg.starts_with("invalid config: linux.namespaces[2].type: unknown variant `foo`"),
            "{msg}"
        );
    }

    #[test]
    fn missing_required_field_names_parent() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            dir.path(),
            br#"{"ociVersion": "1.0.2", "process": {"args": ["sh"]}}"#,
        );
        let msg = load_file(&path).unwrap_err().to_string();
        assert!(
            msg.starts_with("invalid config: process: missing field"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let mut value = serde_json::to_value(default_spec(false)).unwrap();
        value["someFutureField"] = serde_json::json!({"a": [1, 2]});
        value["process"]["somethingNew"] = true.into();
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), value.to_string().as_bytes());
        let spec = load_file(&path).unwrap();
        assert_eq!(spec, default_spec(false));
    }

    #[test]
    fn missing_sections_are_none_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), br#"{"ociVersion": "1.0.2"}"#);
        let spec = load_file(&path).unwrap();
        assert!(spec.process().is_none());
        assert!(spec.linux().is_none());
        assert!(spec.root().is_none());
        let spec = load_file(&write_config(dir.path(), b"{}")).unwrap();
        assert_eq!(spec.version(), "");
    }

    #[test]
    fn oversized_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let file = File::create(&path).unwrap();
        file.set_len(MAX_CONFIG_SIZE + 1).unwrap();
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, Error::ConfigRead { .. }), "{err:?}");
        assert!(
            err.to_string().contains("larger than the 64 MiB limit"),
            "{err}"
        );
    }

    #[test]
    fn large_valid_file_loads() {
        // A big but legal config (long env list) parses fine.
        let mut value = serde_json::to_value(default_spec(false)).unwrap();
        let env: Vec<String> = (0..50_000).map(|i| format!("VAR{i}=value")).collect();
        value["process"]["env"] = env.into();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let mut file = File::create(&path).unwrap();
        file.write_all(value.to_string().as_bytes()).unwrap();
        let spec = load_file(&path).unwrap();
        assert_eq!(
            spec.process()
                .as_ref()
                .unwrap()
                .env()
                .as_ref()
                .unwrap()
                .len(),
            50_000
        );
    }

    #[test]
    fn pretty_output_round_trips() {
        for rootless in [false, true] {
            let spec = default_spec(rootless);
            let dir = tempfile::tempdir().unwrap();
            let path = write_config(dir.path(), to_pretty_json(&spec).as_bytes());
            assert_eq!(load_file(&path).unwrap(), spec);
        }
    }

    #[test]
    fn io_reason_is_lower_case_without_os_error() {
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(io_reason(&e), "permission denied");
    }
}
