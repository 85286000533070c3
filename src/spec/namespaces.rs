//! Questions about `linux.namespaces` that several layers ask.

use oci_spec::runtime::LinuxNamespaceType;

use super::Spec;

/// Does the config give the container a namespace of `kind` (new, or joined by path)?
pub fn has_namespace(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == kind))
}
