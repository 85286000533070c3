//! Spec namespaces → how to get into them: clone flags for the one-clone path, or joins by
//! path followed by unshare (and a second fork for pid/time); uid/gid maps; hostname and
//! domainname; time offsets. Uses `spec` types, `sys`, `error`.

mod idmap;
mod join;
mod plan;
mod time;
mod uts;

pub use idmap::write_id_maps;
pub use join::{open_joins, setns_all, OpenJoin};
pub use plan::{NsPlan, NsType};
pub use time::write_time_offsets;
pub use uts::set_hostname_and_domain;
