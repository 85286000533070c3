//! Join existing namespaces by path. Every path is opened before the first setns, because
//! joining a mount namespace changes what later paths mean.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use std::fs::File;

use anyhow::Context;
use nix::sched::setns;

use super::plan::NsType;

/// A namespace file opened for joining.
pub struct OpenJoin {
    pub typ: NsType,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// Open every namespace path of the plan, in join order.
pub fn open_joins(joins: &[(NsType, PathBuf)]) -> anyhow::Result<Vec<OpenJoin>> {
    joins
        .iter()
        .map(|(typ, path)| {
            let fd = File::open(path)
                .map(OwnedFd::from)
                .with_context(|| format!("open {} namespace {}", typ.name(), path.display()))?;
            Ok(OpenJoin {
                typ: *typ,
                path: path.clone(),
                fd,
            })
        })
        .collect()
}

/// setns into each opened namespace, checking the file is of the expected type.
pub fn setns_all(joins: Vec<OpenJoin>) -> anyhow::Result<()> {
    for j in joins {
        setns(&j.fd, j.typ.flag())
            .with_context(|| format!("join {} namespace {}", j.typ.name(), j.path.display()))?;
    }
    Ok(())
}
