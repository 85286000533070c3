//! Device access rules: `linux.resources.devices` plus runc's default allow-list → one
//! ordered rule list with a default, ready to be compiled into the eBPF program
//! (`device_prog.rs`).
//!
//! Semantics (those of cgroup v1's devices.allow/deny, which OCI describes): rules apply in
//! order; for each access bit (m, r, w) of a request the *last* rule matching the device and
//! containing that bit decides; a bit no rule decides gets the default, which starts as deny
//! and is reset by a whole-wildcard rule (`a *:*`, any access letters, as in cgroup v1). A
//! request is allowed only if all its bits are.
//!
//! Where the defaults go: right after the last whole-wildcard rule of the user's list (or
//! first when there is none). runc appends them at the very end instead; the only
//! difference is that here a user's later *deny* of a default device (say `c 1:3 w`) takes
//! effect, where runc's trailing default silently re-allows it. Like runc, a default whose
//! path is also listed in `linux.devices` is dropped (the spec's device wins), and
//! `linux.devices` entries get no rule of their own (configs allow them in
//! `resources.devices`).

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::Error;

/// Access bits, as the kernel's `BPF_DEVCG_ACC_*`.
pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which devices a rule covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKind {
    All,
    Char,
    Block,
}

/// One rule; `None` major/minor is the `*` wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: DevKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u8,
}

impl DeviceRule {
    const fn allow_char(major: Option<u32>, minor: Option<u32>, access: u8) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind: DevKind::Char,
            major,
            minor,
            access,
        }
    }

    /// `a *:*`: resets the default to this rule's verdict, whatever its access letters say
    /// (cgroup v1 read only the `a` of such a line, and runc's emulator does the same).
    pub fn is_whole_wildcard(&self) -> bool {
        self.kind == DevKind::All && self.major.is_none() && self.minor.is_none()
    }

    fn matches(&self, kind: DevKind, major: u32, minor: u32) -> bool {
        (self.kind == DevKind::All || self.kind == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }
}

/// runc's default allow-list (libcontainer/specconv `AllowedDevices`), with the device path
/// each entry stands for. `/dev/console` is not here (nor in runc): the console is a pty,
/// covered by `/dev/pts/*`.
pub const DEFAULT_ALLOWED: &[(Option<&str>, DeviceRule)] = &[
    // mknod of any character or block device (the node is useless without r/w rules).
    (None, DeviceRule::allow_char(None, None, ACC_MKNOD)),
    (
        None,
        DeviceRule {
            allow: true,
            kind: DevKind::Block,
            major: None,
            minor: None,
            access: ACC_MKNOD,
        },
    ),
    (
        Some("/dev/null"),
        DeviceRule::allow_char(Some(1), Some(3), ACC_ALL),
    ),
    (
        Some("/dev/random"),
        DeviceRule::allow_char(Some(1), Some(8), ACC_ALL),
    ),
    (
        Some("/dev/full"),
        DeviceRule::allow_char(Some(1), Some(7), ACC_ALL),
    ),
    (
        Some("/dev/tty"),
        DeviceRule::allow_char(Some(5), Some(0), ACC_ALL),
    ),
    (
        Some("/dev/zero"),
        DeviceRule::allow_char(Some(1), Some(5), ACC_ALL),
    ),
    (
        Some("/dev/urandom"),
        DeviceRule::allow_char(Some(1), Some(9), ACC_ALL),
    ),
    (
        Some("/dev/pts"),
        DeviceRule::allow_char(Some(136), None, ACC_ALL),
    ),
    (
        Some("/dev/ptmx"),
        DeviceRule::allow_char(Some(5), Some(2), ACC_ALL),
    ),
    // tun/tap: in runc from the start, removed in 1.2.0, restored in 1.2.4.
    (
        Some("/dev/net/tun"),
        DeviceRule::allow_char(Some(10), Some(200), ACC_ALL),
    ),
];

/// The effective rules: a default and the rules that override it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRules {
    pub default_allow: bool,
    pub rules: Vec<DeviceRule>,
}

/// Syntax check of one OCI rule (used by `validate`).
pub fn check_rule(d: &LinuxDeviceCgroup) -> Result<(), String> {
    convert(d).map(|_| ())
}

fn convert(d: &LinuxDeviceCgroup) -> Result<DeviceRule, String> {
    let kind = match d.typ() {
        None | Some(LinuxDeviceType::A) => DevKind::All,
        Some(LinuxDeviceType::C) => DevKind::Char,
        Some(LinuxDeviceType::B) => DevKind::Block,
        Some(t) => {
            return Err(format!(
                "type {:?} cannot be a cgroup device rule (use a, b or c)",
                t.as_str()
            ))
        }
    };
    let num = |name: &str, v: Option<i64>| -> Result<Option<u32>, String> {
        match v {
            None | Some(-1) => Ok(None),
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
            Some(n) => Err(format!(
                "{name} {n} is not a device number (use -1 or leave it out for *)"
            )),
        }
    };
    let major = num("major", d.major())?;
    let minor = num("minor", d.minor())?;
    let text = d.access().as_deref().unwrap_or("");
    if text.is_empty() {
        return Err("access is empty (give some of r, w, m)".to_string());
    }
    let mut access = 0;
    for c in text.chars() {
        access |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(format!(
                    "access {text:?} has {c:?}; only r, w and m are allowed"
                ))
            }
        };
    }
    Ok(DeviceRule {
        allow: d.allow(),
        kind,
        major,
        minor,
        access,
    })
}

impl DeviceRules {
    /// The container's rules from `linux.resources.devices` and `linux.devices` (see the
    /// module header for the order).
    pub fn for_container(
        resources_devices: Option<&[LinuxDeviceCgroup]>,
        linux_devices: &[LinuxDevice],
    ) -> Result<DeviceRules, Error> {
        let mut user = Vec::new();
        for (i, d) in resources_devices.unwrap_or(&[]).iter().enumerate() {
            let rule = convert(d)
                .map_err(|r| Error::invalid(format!("linux.resources.devices[{i}]"), r))?;
            user.push(rule);
        }
        let defaults = DEFAULT_ALLOWED.iter().filter_map(|(path, rule)| {
            let replaced =
                path.is_some_and(|p| linux_devices.iter().any(|d| d.path().as_os_str() == p));
            (!replaced).then_some(*rule)
        });
        let split = user
            .iter()
            .rposition(DeviceRule::is_whole_wildcard)
            .map_or(0, |i| i + 1);
        let mut all: Vec<DeviceRule> = user[..split].to_vec();
        all.extend(defaults);
        all.extend_from_slice(&user[split..]);
        Ok(DeviceRules::from_ordered(all))
    }

    /// Reduce an ordered rule list: everything before the last whole wildcard is
    /// overridden by it, and leading rules that agree with the default change nothing.
    pub fn from_ordered(all: Vec<DeviceRule>) -> DeviceRules {
        let (default_allow, rest) = match all.iter().rposition(DeviceRule::is_whole_wildcard) {
            Some(i) => (all[i].allow, &all[i + 1..]),
            None => (false, &all[..]),
        };
        let first_change = rest
            .iter()
            .position(|r| r.allow != default_allow)
            .unwrap_or(rest.len());
        DeviceRules {
            default_allow,
            rules: rest[first_change..].to_vec(),
        }
    }

    /// Everything allowed (a privileged container).
    pub fn allow_all() -> DeviceRules {
        DeviceRules {
            default_allow: true,
            rules: Vec::new(),
        }
    }

    /// The reference decision for a request (`kind` is Char or Block; `access` ACC_* bits).
    /// The compiled program must agree with this (see the tests of `device_prog`).
    pub fn allows(&self, kind: DevKind, major: u32, minor: u32, access: u8) -> bool {
        (0..3)
            .map(|b| 1u8 << b)
            .filter(|bit| access & bit != 0)
            .all(|bit| {
                self.rules
                    .iter()
                    .rev()
                    .find(|r| r.access & bit != 0 && r.matches(kind, major, minor))
                    .map_or(self.default_allow, |r| r.allow)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    fn dev(path: &str) -> LinuxDevice {
        serde_json::from_str(&format!(
            r#"{{"path":"{path}","type":"c","major":1,"minor":3}}"#
        ))
        .unwrap()
    }

    const DENY_ALL: &str = r#"{"allow":false,"access":"rwm"}"#;

    #[test]
    fn defaults_with_deny_all() {
        let r = DeviceRules::for_container(Some(&rules(&format!("[{DENY_ALL}]"))), &[]).unwrap();
        assert!(!r.default_allow);
        assert_eq!(r.rules.len(), DEFAULT_ALLOWED.len());
        assert!(r.allows(DevKind::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(r.allows(DevKind::Char, 136, 7, ACC_WRITE));
        assert!(r.allows(DevKind::Block, 8, 0, ACC_MKNOD));
        assert!(!r.allows(DevKind::Block, 8, 0, ACC_READ));
        assert!(r.allows(DevKind::Char, 1, 3, ACC_READ | ACC_MKNOD));
        assert!(!r.allows(DevKind::Char, 4, 1, ACC_READ));
    }

    #[test]
    fn no_user_rules_means_defaults_only() {
        let r = DeviceRules::for_container(None, &[]).unwrap();
        let r2 = DeviceRules::for_container(Some(&rules(&format!("[{DENY_ALL}]"))), &[]).unwrap();
        assert_eq!(r, r2);
    }

    #[test]
    fn user_deny_of_a_default_device_is_honoured() {
        let r = DeviceRules::for_container(
            Some(&rules(&format!(
                r#"[{DENY_ALL},{{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}}]"#
            ))),
            &[],
        )
        .unwrap();
        assert!(r.allows(DevKind::Char, 1, 3, ACC_READ));
        assert!(!r.allows(DevKind::Char, 1, 3, ACC_WRITE));
        assert!(!r.allows(DevKind::Char, 1, 3, ACC_READ | ACC_WRITE));
    }

    #[test]
    fn privileged_collapses_to_allow_all() {
        let r = DeviceRules::for_container(Some(&rules(r#"[{"allow":true,"access":"rwm"}]"#)), &[])
            .unwrap();
        assert_eq!(r, DeviceRules::allow_all());
        let r = DeviceRules::for_container(
            Some(&rules(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"b","major":8,"minor":0,"access":"rwm"}]"#)),
            &[],
        )
        .unwrap();
        assert!(r.default_allow);
        assert_eq!(r.rules.len(), 1);
        assert!(!r.allows(DevKind::Block, 8, 0, ACC_READ));
        assert!(r.allows(DevKind::Block, 8, 1, ACC_READ));
    }

    #[test]
    fn spec_device_replaces_the_default_with_its_path() {
        let r = DeviceRules::for_container(None, &[dev("/dev/null")]).unwrap();
        assert!(!r.allows(DevKind::Char, 1, 3, ACC_READ));
        assert!(r.allows(DevKind::Char, 1, 5, ACC_READ));
    }

    #[test]
    fn last_rule_wins_per_bit() {
        // allow c 1:3 rwm, then deny c *:* w → 1:3 readable, not writable.
        let r = DeviceRules::from_ordered(vec![
            DeviceRule::allow_char(Some(1), Some(3), ACC_ALL),
            DeviceRule {
                allow: false,
                ..DeviceRule::allow_char(None, None, ACC_WRITE)
            },
        ]);
        assert!(r.allows(DevKind::Char, 1, 3, ACC_READ));
        assert!(!r.allows(DevKind::Char, 1, 3, ACC_WRITE));
    }

    #[test]
    fn any_a_wildcard_is_a_reset() {
        let r = DeviceRules::for_container(Some(&rules(r#"[{"allow":false,"access":"r"}]"#)), &[])
            .unwrap();
        assert!(!r.default_allow);
        assert!(
            r.allows(DevKind::Char, 1, 3, ACC_WRITE),
            "defaults follow the reset"
        );
        assert!(!r.allows(DevKind::Char, 4, 1, ACC_MKNOD | ACC_READ));
    }

    #[test]
    fn bad_rules() {
        for (json, needle) in [
            (r#"{"allow":true,"type":"p","access":"r"}"#, "type"),
            (r#"{"allow":true,"access":"rx"}"#, "only r, w and m"),
            (r#"{"allow":true}"#, "empty"),
            (r#"{"allow":true,"major":-2,"access":"r"}"#, "major"),
            (r#"{"allow":true,"minor":4294967296,"access":"r"}"#, "minor"),
        ] {
            let d: LinuxDeviceCgroup = serde_json::from_str(json).unwrap();
            let e = check_rule(&d).unwrap_err();
            assert!(e.contains(needle), "{json}: {e}");
        }
        let e = DeviceRules::for_container(Some(&rules(r#"[{"allow":true,"access":"z"}]"#)), &[])
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid config: linux.resources.devices[0]"),
            "{e}"
        );
    }
}
