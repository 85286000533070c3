//! `process.rlimits`: every `RLIMIT_*` of getrlimit(2), checked up front, set with setrlimit.

use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType as T};

use crate::error::Error;

/// One limit to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: Resource,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

/// The kernel resource and its name for an OCI rlimit type.
pub fn resource(t: T) -> (Resource, &'static str) {
    match t {
        T::RlimitCpu => (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
        T::RlimitFsize => (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        T::RlimitData => (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
        T::RlimitStack => (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
        T::RlimitCore => (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
        T::RlimitRss => (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
        T::RlimitNproc => (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
        T::RlimitNofile => (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        T::RlimitMemlock => (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        T::RlimitAs => (Resource::RLIMIT_AS, "RLIMIT_AS"),
        T::RlimitLocks => (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        T::RlimitSigpending => (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        T::RlimitMsgqueue => (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        T::RlimitNice => (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
        T::RlimitRtprio => (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        T::RlimitRttime => (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    }
}

/// Check and convert: soft ≤ hard, each type at most once (the spec requires an error for
/// duplicates).
pub fn plan(rlimits: Option<&Vec<PosixRlimit>>) -> Result<Vec<Rlimit>, Error> {
    let mut out: Vec<Rlimit> = Vec::new();
    for (i, r) in rlimits.into_iter().flatten().enumerate() {
        let field = format!("process.rlimits[{i}]");
        let (resource, name) = resource(r.typ());
        if r.soft() > r.hard() {
            return Err(Error::invalid(
                field,
                format!(
                    "{name}: soft limit {} is above hard limit {}",
                    r.soft(),
                    r.hard()
                ),
            ));
        }
        if let Some(k) = out.iter().position(|o| o.resource == resource) {
            return Err(Error::invalid(
                field,
                format!("{name} is already set by process.rlimits[{k}]"),
            ));
        }
        out.push(Rlimit {
            resource,
            name,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    Ok(out)
}

/// Set every limit on the calling process. Raising a hard limit needs CAP_SYS_RESOURCE.
pub fn apply(limits: &[Rlimit]) -> anyhow::Result<()> {
    for l in limits {
        setrlimit(l.resource, l.soft, l.hard).map_err(|e| {
            anyhow::anyhow!(
                "setrlimit({}, soft {}, hard {}): {e}",
                l.name,
                l.soft,
                l.hard
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Vec<PosixRlimit> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn maps_every_type() {
        let names = [
            "RLIMIT_CPU",
            "RLIMIT_FSIZE",
            "RLIMIT_DATA",
            "RLIMIT_STACK",
            "RLIMIT_CORE",
            "RLIMIT_RSS",
            "RLIMIT_NPROC",
            "RLIMIT_NOFILE",
            "RLIMIT_MEMLOCK",
            "RLIMIT_AS",
            "RLIMIT_LOCKS",
            "RLIMIT_SIGPENDING",
            "RLIMIT_MSGQUEUE",
            "RLIMIT_NICE",
            "RLIMIT_RTPRIO",
            "RLIMIT_RTTIME",
        ];
        let json: Vec<String> = names
            .iter()
            .map(|n| format!(r#"{{"type":"{n}","soft":1,"hard":2}}"#))
            .collect();
        let v = plan(Some(&parse(&format!("[{}]", json.join(","))))).unwrap();
        assert_eq!(v.len(), 16);
        for (l, n) in v.iter().zip(names) {
            assert_eq!(l.name, n);
        }
        assert_eq!(v[7].resource, Resource::RLIMIT_NOFILE);
    }

    #[test]
    fn soft_above_hard_is_invalid() {
        let r = parse(r#"[{"type":"RLIMIT_NOFILE","soft":2048,"hard":1024}]"#);
        assert_eq!(
            plan(Some(&r)).unwrap_err().to_string(),
            "invalid config: process.rlimits[0]: RLIMIT_NOFILE: soft limit 2048 is above hard limit 1024"
        );
    }

    #[test]
    fn duplicates_are_invalid() {
        let r = parse(
            r#"[{"type":"RLIMIT_CORE","soft":0,"hard":0},{"type":"RLIMIT_CORE","soft":1,"hard":1}]"#,
        );
        assert_eq!(
            plan(Some(&r)).unwrap_err().to_string(),
            "invalid config: process.rlimits[1]: RLIMIT_CORE is already set by process.rlimits[0]"
        );
    }
}
