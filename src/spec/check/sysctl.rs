//! `linux.sysctl`: only settings that stay inside the container's own namespaces.
//!
//! A sysctl is written under `/proc/sys` after the container's namespaces exist. For one that
//! is not namespaced (`vm.swappiness`, `kernel.pid_max`) that write changes the host, so it
//! is refused, as runc does; a namespaced one needs its namespace in the config (one joined
//! by path counts: whose namespace it is cannot be told without looking). `kernel.hostname`
//! is refused in favour of the `hostname` field. Keys are checked for shape because they
//! become paths (`a.b` is `/proc/sys/a/b`).

use oci_spec::runtime::LinuxNamespaceType;

use super::{find_namespace, ns_name, Spec};
use crate::error::Error;

/// IPC-namespaced sysctls outside `fs.mqueue.`.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace that confines `key` (in dotted form), or `None` if it is global.
fn owning_namespace(key: &str) -> Option<LinuxNamespaceType> {
    if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key.starts_with("fs.mqueue.") || IPC_SYSCTLS.contains(&key) {
        Some(LinuxNamespaceType::Ipc)
    } else if key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// sysctl(8) also accepts `/` as the separator (`net/ipv4/conf/eth0.100/rp_filter`), with `.`
/// then standing for a literal dot; turn such a key into the dotted form
/// (`net.ipv4.conf.eth0/100.rp_filter`). A key whose first separator is `.` is already dotted.
fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key[i..].starts_with('/') => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// `true` if every `.`- or `/`-separated part of `key` is a plain name.
fn key_shape_ok(key: &str) -> bool {
    let plain = |part: &str| {
        !part.is_empty() && part != ".." && !part.chars().any(|c| c.is_whitespace() || c == '\0')
    };
    key.split(['.', '/']).all(plain)
}

/// Every `linux.sysctl` key is well formed and confined to a namespace the container has.
pub(super) fn sysctl(spec: &Spec) -> Result<(), Error> {
    let Some(sysctls) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort(); // HashMap order is random; report the same key every time
    for key in keys {
        let field = format!("linux.sysctl[{}]", serde_json::Value::from(key.as_str()));
        if !key_shape_ok(key) {
            return Err(Error::invalid(field, "is not a valid sysctl name"));
        }
        let key = dotted(key);
        if key == "kernel.hostname" {
            return Err(Error::invalid(
                field,
                "conflicts with the hostname field, set that instead",
            ));
        }
        let Some(typ) = owning_namespace(&key) else {
            return Err(Error::invalid(
                field,
                "is not namespaced: setting it would change the host",
            ));
        };
        if find_namespace(spec, typ).is_none() {
            return Err(Error::invalid(
                field,
                format!(
                    "requires a {:?} namespace: without one it would change the host",
                    ns_name(typ)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::testutil::{assert_invalid, patched};
    use serde_json::{json, Value};

    fn with_sysctl(sysctl: Value) -> Spec {
        patched(|v| v["linux"]["sysctl"] = sysctl)
    }

    #[test]
    fn namespaced_sysctls_pass() {
        let spec = with_sysctl(json!({
            "net.ipv4.ip_forward": "1",
            "net.core.somaxconn": "256",
            "kernel.shmmax": "1000000",
            "fs.mqueue.msg_max": "20",
            "kernel.domainname": "example.org",
            "net.ipv4.conf.eth0/100.rp_filter": "0",
            "net/ipv4/conf/eth0.100/rp_filter": "0"
        }));
        sysctl(&spec).unwrap();
    }

    #[test]
    fn slash_form_is_judged_like_dotted() {
        assert_eq!(
            dotted("net/ipv4/conf/eth0.100/rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        assert_eq!(
            dotted("net.ipv4.conf.eth0/100.rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter"
        );
        let spec = with_sysctl(json!({"vm/swappiness": "1"}));
        assert_invalid(
            sysctl(&spec),
            "linux.sysctl[\"vm/swappiness\"]",
            "is not namespaced",
        );
    }

    #[test]
    fn hostname_sysctl_conflicts_with_field() {
        let spec = with_sysctl(json!({"kernel.hostname": "x"}));
        assert_invalid(
            sysctl(&spec),
            "linux.sysctl[\"kernel.hostname\"]",
            "conflicts with the hostname field",
        );
    }

    #[test]
    fn global_sysctl_is_refused() {
        let spec = with_sysctl(json!({"vm.swappiness": "10"}));
        assert_invalid(
            sysctl(&spec),
            "linux.sysctl[\"vm.swappiness\"]",
            "is not namespaced",
        );
    }

    #[test]
    fn net_sysctl_needs_network_namespace() {
        let spec = patched(|v| {
            v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            let list = v["linux"]["namespaces"].as_array_mut().unwrap();
            list.retain(|ns| ns["type"] != "network");
        });
        assert_invalid(
            sysctl(&spec),
            "linux.sysctl[\"net.ipv4.ip_forward\"]",
            "requires a \"network\" namespace",
        );
    }

    #[test]
    fn ipc_sysctl_needs_ipc_namespace() {
        let spec = patched(|v| {
            v["linux"]["sysctl"] = json!({"kernel.sem": "250 32000 32 128"});
            let list = v["linux"]["namespaces"].as_array_mut().unwrap();
            list.retain(|ns| ns["type"] != "ipc");
        });
        assert_invalid(
            sysctl(&spec),
            "linux.sysctl[\"kernel.sem\"]",
            "requires a \"ipc\" namespace",
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "net..ipv4", "net.ipv4.", "net/../../etc", "net.a b"] {
            let spec = with_sysctl(json!({ bad: "1" }));
            let field = format!("linux.sysctl[{}]", Value::from(bad));
            assert_invalid(sysctl(&spec), &field, "not a valid sysctl name");
        }
    }
}
