//! Mount option words → mount flags, filesystem data and propagation changes, recursive mount
//! attributes (`rro`, `rnosuid`, …), `idmap`/`ridmap` and `tmpcopyup`; the root propagation
//! setting; and statvfs flags → mount flags (to keep what a mount already has).

use anyhow::{bail, Result};
use nix::mount::MsFlags;

use crate::sys::mount_api::attr;

/// `MS_NOSYMFOLLOW` (Linux 5.10), missing from nix's `MsFlags`.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// The flags that select how access times are updated; setting one replaces the others.
pub const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// What one `options` entry of a mount means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    /// Turn these flags on.
    Set(MsFlags),
    /// Turn these flags off.
    Clear(MsFlags),
    /// Change the propagation of the mount after it is made.
    Propagation(MsFlags),
    /// Set these `MOUNT_ATTR_*` bits on the mount and all its submounts (`rro`, …).
    RecSet(u64),
    /// Clear these `MOUNT_ATTR_*` bits recursively (`rrw`, …).
    RecClear(u64),
    /// Make this the access-time mode of the mount and its submounts (`rnoatime`, …).
    RecAtime(u64),
    /// An id-mapped mount, recursive or not.
    Idmap(Idmap),
    /// Copy what is at the destination into the new tmpfs.
    TmpCopyUp,
    /// Accepted and meaningless (`defaults`).
    Nothing,
}

/// Which id-mapped mount the options ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idmap {
    /// `idmap`: only the mount itself.
    Mount,
    /// `ridmap`: the mount and every submount.
    Recursive,
}

/// `MOUNT_ATTR_*` bits to set and clear on a mount and its submounts with `mount_setattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecAttrs {
    pub set: u64,
    pub clear: u64,
}

impl RecAttrs {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clear == 0
    }
}

/// Is `w` an option word (as opposed to filesystem data)?
pub fn is_known_option(w: &str) -> bool {
    word(w).is_some()
}

fn word(w: &str) -> Option<Word> {
    use MsFlags as F;
    use Word::*;
    Some(match w {
        "defaults" => Nothing,
        "ro" => Set(F::MS_RDONLY),
        "rw" => Clear(F::MS_RDONLY),
        "nosuid" => Set(F::MS_NOSUID),
        "suid" => Clear(F::MS_NOSUID),
        "nodev" => Set(F::MS_NODEV),
        "dev" => Clear(F::MS_NODEV),
        "noexec" => Set(F::MS_NOEXEC),
        "exec" => Clear(F::MS_NOEXEC),
        "sync" => Set(F::MS_SYNCHRONOUS),
        "async" => Clear(F::MS_SYNCHRONOUS),
        "dirsync" => Set(F::MS_DIRSYNC),
        "remount" => Set(F::MS_REMOUNT),
        "mand" => Set(F::MS_MANDLOCK),
        "nomand" => Clear(F::MS_MANDLOCK),
        "atime" => Clear(F::MS_NOATIME),
        "noatime" => Set(F::MS_NOATIME),
        "diratime" => Clear(F::MS_NODIRATIME),
        "nodiratime" => Set(F::MS_NODIRATIME),
        "relatime" => Set(F::MS_RELATIME),
        "norelatime" => Clear(F::MS_RELATIME),
        "strictatime" => Set(F::MS_STRICTATIME),
        "nostrictatime" => Clear(F::MS_STRICTATIME),
        "lazytime" => Set(F::MS_LAZYTIME),
        "nolazytime" => Clear(F::MS_LAZYTIME),
        "nosymfollow" => Set(MS_NOSYMFOLLOW),
        "symfollow" => Clear(MS_NOSYMFOLLOW),
        "bind" => Set(F::MS_BIND),
        "rbind" => Set(F::MS_BIND.union(F::MS_REC)),
        "rro" => RecSet(attr::RDONLY),
        "rrw" => RecClear(attr::RDONLY),
        "rnosuid" => RecSet(attr::NOSUID),
        "rsuid" => RecClear(attr::NOSUID),
        "rnodev" => RecSet(attr::NODEV),
        "rdev" => RecClear(attr::NODEV),
        "rnoexec" => RecSet(attr::NOEXEC),
        "rexec" => RecClear(attr::NOEXEC),
        "rnodiratime" => RecSet(attr::NODIRATIME),
        "rdiratime" => RecClear(attr::NODIRATIME),
        "rnosymfollow" => RecSet(attr::NOSYMFOLLOW),
        "rsymfollow" => RecClear(attr::NOSYMFOLLOW),
        "rnoatime" => RecAtime(attr::NOATIME),
        "rrelatime" => RecAtime(attr::RELATIME),
        "rstrictatime" => RecAtime(attr::STRICTATIME),
        "idmap" => Idmap(self::Idmap::Mount),
        "ridmap" => Idmap(self::Idmap::Recursive),
        "tmpcopyup" => TmpCopyUp,
        _ => Propagation(propagation(w)?),
    })
}

/// A propagation word (`shared`, `rslave`, …) as mount flags.
pub fn propagation(w: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match w {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// The propagation to give `/` before anything is mounted: `linux.rootfsPropagation` when set,
/// else `rslave` like runc, so nothing mounted in the container reaches the host.
pub fn root_propagation(value: Option<&str>) -> Result<MsFlags> {
    match value {
        None | Some("") => Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        Some(v) => match propagation(v) {
            Some(f) => Ok(f),
            None => bail!("invalid linux.rootfsPropagation {v:?}"),
        },
    }
}

/// The parsed `options` of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags the options turn on (including `MS_BIND`/`MS_REC` for `bind`/`rbind`).
    pub set: MsFlags,
    /// Flags the options explicitly turn off (`rw`, `suid`, …).
    pub clear: MsFlags,
    /// Propagation changes, applied one by one after the mount, in config order.
    pub propagation: Vec<MsFlags>,
    /// Every word that is not a flag, for the filesystem, joined by commas.
    pub data: String,
    /// Recursive attributes, applied after the mount (and its remount) with `mount_setattr`.
    pub rec: RecAttrs,
    /// `idmap` or `ridmap`.
    pub idmap: Option<Idmap>,
    /// `tmpcopyup` (tmpfs only).
    pub tmpcopyup: bool,
}

impl MountOptions {
    /// Parse the option words of one mount; the later of two contradicting words wins.
    pub fn parse<S: AsRef<str>>(words: &[S]) -> MountOptions {
        let mut o = MountOptions {
            set: MsFlags::empty(),
            clear: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
            rec: RecAttrs::default(),
            idmap: None,
            tmpcopyup: false,
        };
        let mut data: Vec<&str> = Vec::new();
        for w in words {
            let w = w.as_ref();
            match word(w) {
                Some(Word::Set(f)) => {
                    o.set |= f;
                    o.clear &= !f;
                }
                Some(Word::Clear(f)) => {
                    o.clear |= f;
                    o.set &= !f;
                }
                Some(Word::Propagation(f)) => o.propagation.push(f),
                Some(Word::RecSet(a)) => {
                    o.rec.set |= a;
                    o.rec.clear &= !a;
                }
                Some(Word::RecClear(a)) => {
                    o.rec.clear |= a;
                    o.rec.set &= !a;
                }
                Some(Word::RecAtime(mode)) => {
                    o.rec.clear |= attr::ATIME_MASK;
                    o.rec.set = (o.rec.set & !attr::ATIME_MASK) | mode;
                }
                Some(Word::Idmap(i)) => o.idmap = Some(i),
                Some(Word::TmpCopyUp) => o.tmpcopyup = true,
                Some(Word::Nothing) => {}
                None if w.is_empty() => {}
                None => data.push(w),
            }
        }
        o.data = data.join(",");
        o
    }

    /// `bind` or `rbind` was given.
    pub fn is_bind(&self) -> bool {
        self.set.contains(MsFlags::MS_BIND)
    }

    /// `rbind` was given.
    pub fn is_recursive(&self) -> bool {
        self.set.contains(MsFlags::MS_REC)
    }

    /// The flags that change the mount itself (`ro`, `nosuid`, …), without bind/rec/remount.
    pub fn mount_attrs(&self) -> MsFlags {
        self.set - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }

    /// Whether a bind mount needs a second, remounting call to apply the options.
    pub fn needs_remount(&self) -> bool {
        !self.mount_attrs().is_empty() || !self.clear.is_empty()
    }

    /// The flags for remounting a bind mount that currently has `current`: what it has, minus
    /// what the options clear, plus what they set (an atime word replaces the current atime mode).
    pub fn remount_flags(&self, current: MsFlags) -> MsFlags {
        let mut keep = current - self.clear;
        if (self.set | self.clear).intersects(ATIME_FLAGS) {
            keep -= ATIME_FLAGS;
        }
        keep | self.mount_attrs() | MsFlags::MS_BIND | MsFlags::MS_REMOUNT
    }
}

/// statvfs `f_flag` bits (`ST_*`) → the mount flags (`MS_*`) that keep them on a remount.
pub fn statvfs_to_mount_flags(st: u64) -> MsFlags {
    const TABLE: [(u64, MsFlags); 10] = [
        (libc::ST_RDONLY, MsFlags::MS_RDONLY),
        (libc::ST_NOSUID, MsFlags::MS_NOSUID),
        (libc::ST_NODEV, MsFlags::MS_NODEV),
        (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (libc::ST_SYNCHRONOUS, MsFlags::MS_SYNCHRONOUS),
        (libc::ST_MANDLOCK, MsFlags::MS_MANDLOCK),
        (libc::ST_NOATIME, MsFlags::MS_NOATIME),
        (libc::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (0x1000, MsFlags::MS_RELATIME), // ST_RELATIME (absent from musl's libc bindings)
        (0x2000, MS_NOSYMFOLLOW),       // ST_NOSYMFOLLOW
    ];
    TABLE
        .iter()
        .filter(|(bit, _)| st & bit != 0)
        .fold(MsFlags::empty(), |acc, (_, f)| acc | *f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MsFlags as F;

    #[test]
    fn every_flag_word() {
        let table: &[(&str, MsFlags, MsFlags)] = &[
            ("ro", F::MS_RDONLY, F::empty()),
            ("rw", F::empty(), F::MS_RDONLY),
            ("nosuid", F::MS_NOSUID, F::empty()),
            ("suid", F::empty(), F::MS_NOSUID),
            ("nodev", F::MS_NODEV, F::empty()),
            ("dev", F::empty(), F::MS_NODEV),
            ("noexec", F::MS_NOEXEC, F::empty()),
            ("exec", F::empty(), F::MS_NOEXEC),
            ("sync", F::MS_SYNCHRONOUS, F::empty()),
            ("async", F::empty(), F::MS_SYNCHRONOUS),
            ("dirsync", F::MS_DIRSYNC, F::empty()),
            ("remount", F::MS_REMOUNT, F::empty()),
            ("mand", F::MS_MANDLOCK, F::empty()),
            ("nomand", F::empty(), F::MS_MANDLOCK),
            ("atime", F::empty(), F::MS_NOATIME),
            ("noatime", F::MS_NOATIME, F::empty()),
            ("diratime", F::empty(), F::MS_NODIRATIME),
            ("nodiratime", F::MS_NODIRATIME, F::empty()),
            ("relatime", F::MS_RELATIME, F::empty()),
            ("norelatime", F::empty(), F::MS_RELATIME),
            ("strictatime", F::MS_STRICTATIME, F::empty()),
            ("nostrictatime", F::empty(), F::MS_STRICTATIME),
            ("lazytime", F::MS_LAZYTIME, F::empty()),
            ("nolazytime", F::empty(), F::MS_LAZYTIME),
            ("nosymfollow", MS_NOSYMFOLLOW, F::empty()),
            ("symfollow", F::empty(), MS_NOSYMFOLLOW),
            ("bind", F::MS_BIND, F::empty()),
            ("rbind", F::MS_BIND | F::MS_REC, F::empty()),
            ("defaults", F::empty(), F::empty()),
        ];
        for (w, set, clear) in table {
            let o = MountOptions::parse(&[*w]);
            assert_eq!((o.set, o.clear), (*set, *clear), "word {w}");
            assert!(o.propagation.is_empty() && o.data.is_empty(), "word {w}");
        }
    }

    #[test]
    fn propagation_words_are_split_off() {
        let table: &[(&str, MsFlags)] = &[
            ("private", F::MS_PRIVATE),
            ("rprivate", F::MS_PRIVATE | F::MS_REC),
            ("shared", F::MS_SHARED),
            ("rshared", F::MS_SHARED | F::MS_REC),
            ("slave", F::MS_SLAVE),
            ("rslave", F::MS_SLAVE | F::MS_REC),
            ("unbindable", F::MS_UNBINDABLE),
            ("runbindable", F::MS_UNBINDABLE | F::MS_REC),
        ];
        for (w, f) in table {
            let o = MountOptions::parse(&["ro", w]);
            assert_eq!(o.set, F::MS_RDONLY, "word {w}");
            assert_eq!(o.propagation, vec![*f], "word {w}");
        }
        let o = MountOptions::parse(&["rbind", "rprivate", "shared"]);
        assert!(o.is_bind() && o.is_recursive());
        assert_eq!(o.propagation, vec![F::MS_PRIVATE | F::MS_REC, F::MS_SHARED]);
    }

    #[test]
    fn unknown_words_are_data() {
        let o = MountOptions::parse(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "",
            "newinstance",
        ]);
        assert_eq!(o.set, F::MS_NOSUID | F::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k,newinstance");
        assert!(!o.is_bind());
    }

    #[test]
    fn later_word_wins() {
        assert_eq!(MountOptions::parse(&["ro", "rw"]).set, F::empty());
        assert_eq!(MountOptions::parse(&["ro", "rw"]).clear, F::MS_RDONLY);
        assert_eq!(MountOptions::parse(&["rw", "ro"]).set, F::MS_RDONLY);
        assert_eq!(MountOptions::parse(&["rw", "ro"]).clear, F::empty());
    }

    #[test]
    fn remount_keeps_current_flags() {
        let o = MountOptions::parse(&["bind", "ro"]);
        assert!(o.needs_remount());
        let cur = F::MS_NOSUID | F::MS_NODEV | F::MS_RELATIME;
        assert_eq!(
            o.remount_flags(cur),
            cur | F::MS_RDONLY | F::MS_BIND | F::MS_REMOUNT
        );
        let o = MountOptions::parse(&["rbind", "suid", "noatime"]);
        assert_eq!(
            o.remount_flags(cur),
            F::MS_NODEV | F::MS_NOATIME | F::MS_BIND | F::MS_REMOUNT
        );
        assert!(!MountOptions::parse(&["rbind", "rprivate"]).needs_remount());
    }

    #[test]
    fn recursive_attribute_words() {
        let table: &[(&str, u64, u64)] = &[
            ("rro", attr::RDONLY, 0),
            ("rrw", 0, attr::RDONLY),
            ("rnosuid", attr::NOSUID, 0),
            ("rsuid", 0, attr::NOSUID),
            ("rnodev", attr::NODEV, 0),
            ("rdev", 0, attr::NODEV),
            ("rnoexec", attr::NOEXEC, 0),
            ("rexec", 0, attr::NOEXEC),
            ("rnodiratime", attr::NODIRATIME, 0),
            ("rdiratime", 0, attr::NODIRATIME),
            ("rnosymfollow", attr::NOSYMFOLLOW, 0),
            ("rsymfollow", 0, attr::NOSYMFOLLOW),
            ("rnoatime", attr::NOATIME, attr::ATIME_MASK),
            ("rrelatime", attr::RELATIME, attr::ATIME_MASK),
            ("rstrictatime", attr::STRICTATIME, attr::ATIME_MASK),
        ];
        for (w, set, clear) in table {
            let o = MountOptions::parse(&["rbind", w]);
            assert_eq!((o.rec.set, o.rec.clear), (*set, *clear), "word {w}");
            assert!(o.data.is_empty() && !o.needs_remount(), "word {w}");
        }
        let o = MountOptions::parse(&["rro", "rnoatime", "rrw", "rstrictatime"]);
        assert_eq!(o.rec.set, attr::STRICTATIME);
        assert_eq!(o.rec.clear, attr::RDONLY | attr::ATIME_MASK);
        assert!(MountOptions::parse(&["ro"]).rec.is_empty());
    }

    #[test]
    fn idmap_and_tmpcopyup_words() {
        let o = MountOptions::parse(&["rbind", "idmap"]);
        assert_eq!(o.idmap, Some(Idmap::Mount));
        let o = MountOptions::parse(&["bind", "ridmap", "ro"]);
        assert_eq!(o.idmap, Some(Idmap::Recursive));
        assert_eq!(o.set, F::MS_BIND | F::MS_RDONLY);
        let o = MountOptions::parse(&["tmpcopyup", "mode=755"]);
        assert!(o.tmpcopyup && o.idmap.is_none());
        assert_eq!(o.data, "mode=755");
    }

    #[test]
    fn root_propagation_values() {
        assert_eq!(root_propagation(None).unwrap(), F::MS_SLAVE | F::MS_REC);
        assert_eq!(root_propagation(Some("")).unwrap(), F::MS_SLAVE | F::MS_REC);
        assert_eq!(root_propagation(Some("private")).unwrap(), F::MS_PRIVATE);
        assert_eq!(
            root_propagation(Some("rshared")).unwrap(),
            F::MS_SHARED | F::MS_REC
        );
        let e = root_propagation(Some("ro")).unwrap_err().to_string();
        assert_eq!(e, "invalid linux.rootfsPropagation \"ro\"");
    }

    #[test]
    fn statvfs_bits_map_to_mount_flags() {
        let st = libc::ST_RDONLY | libc::ST_NOSUID | libc::ST_NODEV | libc::ST_RELATIME | 0x2000;
        assert_eq!(
            statvfs_to_mount_flags(st),
            F::MS_RDONLY | F::MS_NOSUID | F::MS_NODEV | F::MS_RELATIME | MS_NOSYMFOLLOW
        );
        assert_eq!(statvfs_to_mount_flags(0), F::empty());
    }
}
