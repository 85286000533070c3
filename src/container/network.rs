//! sangja networking as the lifecycle sees it: the request read from the spec before any
//! side effect, the lease and files before clone (init mounts /etc/hosts and resolv.conf),
//! the veth and rules once init is ready, and teardown on delete.

use std::path::PathBuf;

use oci_spec::runtime::{Mount, Spec};

use crate::network::{self, Attachment, Prepared, Request};
use crate::state::Store;

/// Is container `id` still there (being created counts), for lease reclaiming?
pub fn is_alive(store: &Store, id: &str) -> bool {
    if !store.dir(id).exists() {
        return false;
    }
    match store.load(id) {
        Ok(state) => state.init_alive(),
        // No state.json yet: a create in progress.
        Err(_) => true,
    }
}

/// Phase one: lease and files; the spec gets read-only binds of /etc/hosts and resolv.conf.
pub fn prepare(store: &Store, req: &Request, spec: &mut Spec) -> anyhow::Result<Prepared> {
    let prepared = network::prepare(store.root(), req, &|id| is_alive(store, id))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (source, destination) in prepared.attachment.mounts() {
        mounts.push(bind_ro(source, destination));
    }
    spec.set_mounts(Some(mounts));
    Ok(prepared)
}

fn bind_ro(source: PathBuf, destination: &str) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination))
        .set_typ(Some("bind".into()))
        .set_source(Some(source))
        .set_options(Some(vec!["rbind".into(), "ro".into()]));
    m
}

/// Undo everything of an attachment; every failure is reported.
pub fn detach(store: &Store, attachment: &Attachment) -> anyhow::Result<()> {
    network::detach(store.root(), attachment).map_err(anyhow::Error::from)
}

/// `sangja network rm NAME`: the bridge, subnet and files of a network no container uses.
pub fn remove_network(store: &Store, name: &str) -> anyhow::Result<()> {
    network::remove_network(store.root(), name, &|id| is_alive(store, id))
}

/// The attachment as stored in state.json (state does not know network types).
pub fn to_state(a: &Attachment) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(a)?)
}

pub fn from_state(v: &serde_json::Value) -> anyhow::Result<Attachment> {
    Ok(serde_json::from_value(v.clone())?)
}
