//! Environment defaults that depend on the container's user: `HOME` from the container's
//! /etc/passwd when the config does not set it (runc does the same), "/" when unknown.

use std::path::Path;

/// `env` with `HOME=` added if missing. Reads `passwd` (the container's, after pivot_root).
pub fn with_home(mut env: Vec<String>, uid: u32, passwd: &Path) -> Vec<String> {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return env;
    }
    let home = std::fs::read_to_string(passwd)
        .ok()
        .and_then(|text| home_of(&text, uid))
        .unwrap_or_else(|| "/".to_string());
    env.push(format!("HOME={home}"));
    env
}

/// The home directory of `uid` in passwd(5) text.
fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[2].parse() == Ok(uid)).then(|| fields[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_from_passwd_or_slash() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("passwd");
        std::fs::write(
            &p,
            "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(with_home(vec![], 1000, &p), vec!["HOME=/home/u"]);
        assert_eq!(with_home(vec![], 0, &p), vec!["HOME=/root"]);
        assert_eq!(with_home(vec![], 5, &p), vec!["HOME=/"]);
        assert_eq!(with_home(vec!["HOME=/x".into()], 0, &p), vec!["HOME=/x"]);
        assert_eq!(with_home(vec![], 0, &t.path().join("none")), vec!["HOME=/"]);
    }
}
