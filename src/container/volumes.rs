//! Named volumes (`sangja volume ls|rm`): directories under `<root>/_volumes` that outlive
//! the containers using them.

use crate::rootfs::volumes::{self, volumes_in_annotations};
use crate::state::Store;

/// Names of the named volumes, sorted.
pub fn list_volumes(store: &Store) -> anyhow::Result<Vec<String>> {
    volumes::volumes(store.root())
}

/// Remove a volume, refused while a live container uses it.
pub fn remove_volume(store: &Store, name: &str) -> anyhow::Result<()> {
    let ids = store.list()?;
    let in_use = |volume: &str| {
        ids.iter().any(|id| {
            store.load(id).is_ok_and(|s| {
                let annotations = s.annotations.clone().into_iter().collect();
                s.init_alive()
                    && volumes_in_annotations(Some(&annotations))
                        .iter()
                        .any(|v| v == volume)
            })
        })
    };
    volumes::remove_volume(store.root(), name, in_use)
}
