//! Link planning: which netlink calls make a bridge and plug a container into it, in which
//! order, and how a failure part way is undone. The calls go through the [`Links`] trait, so this
//! logic is tested with a recording fake; `rtnl` is the real thing.

use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;

use anyhow::{bail, Context, Result};

/// What we need to know about an existing link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    pub index: u32,
    pub mtu: u32,
    /// `IFLA_INFO_KIND`, e.g. "bridge" or "veth"; `None` for a physical device.
    pub kind: Option<String>,
}

/// The netlink route calls sangja makes, in one network namespace.
pub trait Links {
    /// The link called `name`, if there is one.
    fn link(&mut self, name: &str) -> Result<Option<LinkFacts>>;
    /// Create a bridge; `Ok(false)` if a link of that name appeared meanwhile.
    fn add_bridge(&mut self, name: &str) -> Result<bool>;
    /// Add an IPv4 address; an address already there is fine.
    fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()>;
    fn set_up(&mut self, index: u32) -> Result<()>;
    /// Create a veth pair: `host` here, enslaved to `master`, and `peer` born in the network
    /// namespace `netns` (an open `/proc/<pid>/ns/net`), both with `mtu`.
    fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        netns: BorrowedFd<'_>,
        mtu: u32,
        master: u32,
    ) -> Result<()>;
    /// Delete the link `name`; `Ok(false)` when there is none.
    fn delete(&mut self, name: &str) -> Result<bool>;
    /// Default route via `gateway` out of `index`.
    fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()>;
}

/// Result of [`ensure_bridge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub index: u32,
    pub mtu: u32,
    pub created: bool,
}

/// Make sure bridge `name` exists with `gateway/prefix` on it and is up.
pub fn ensure_bridge(
    nl: &mut dyn Links,
    name: &str,
    gateway: Ipv4Addr,
    prefix: u8,
) -> Result<Bridge> {
    let mut created = false;
    let facts = match nl.link(name)? {
        Some(f) => f,
        None => {
            created = nl
                .add_bridge(name)
                .with_context(|| format!("create bridge {name}"))?;
            nl.link(name)?
                .with_context(|| format!("bridge {name} vanished right after its creation"))?
        }
    };
    if facts.kind.as_deref() != Some("bridge") {
        bail!(
            "{name} exists and is not a bridge (kind {})",
            facts.kind.as_deref().unwrap_or("none")
        );
    }
    nl.add_address(facts.index, gateway, prefix)
        .with_context(|| format!("add {gateway}/{prefix} to bridge {name}"))?;
    nl.set_up(facts.index)
        .with_context(|| format!("bring bridge {name} up"))?;
    Ok(Bridge {
        index: facts.index,
        mtu: facts.mtu,
        created,
    })
}

/// How one container is plugged in.
#[derive(Debug, Clone)]
pub struct VethPlan {
    pub host_name: String,
    pub peer_name: String,
    pub mtu: u32,
    pub bridge_index: u32,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
}

/// Create the veth pair and configure the container end through `inside` (a [`Links`] on the
/// container's namespace, opened by `open_inside`). On failure after the pair exists the host
/// end is deleted, which takes the peer with it.
pub fn plumb(
    host: &mut dyn Links,
    netns: BorrowedFd<'_>,
    open_inside: &mut dyn FnMut() -> Result<Box<dyn Links>>,
    plan: &VethPlan,
) -> Result<()> {
    host.add_veth(
        &plan.host_name,
        &plan.peer_name,
        netns,
        plan.mtu,
        plan.bridge_index,
    )
    .with_context(|| format!("create veth pair {}", plan.host_name))?;
    let res = configure(host, open_inside, plan);
    if let Err(e) = res {
        return match host.delete(&plan.host_name) {
            Ok(_) => Err(e),
            Err(d) => Err(e.context(format!(
                "and removing veth {} failed too: {d:#}",
                plan.host_name
            ))),
        };
    }
    Ok(())
}

fn configure(
    host: &mut dyn Links,
    open_inside: &mut dyn FnMut() -> Result<Box<dyn Links>>,
    plan: &VethPlan,
) -> Result<()> {
    let h = host
        .link(&plan.host_name)?
        .with_context(|| format!("veth {} vanished after its creation", plan.host_name))?;
    host.set_up(h.index)
        .with_context(|| format!("bring {} up", plan.host_name))?;
    let mut inside = open_inside()?;
    let lo = inside
        .link("lo")?
        .context("the container's network namespace has no lo")?;
    inside
        .set_up(lo.index)
        .context("bring lo up in the container")?;
    let eth = inside
        .link(&plan.peer_name)?
        .with_context(|| format!("{} is missing in the container", plan.peer_name))?;
    inside
        .add_address(eth.index, plan.address, plan.prefix)
        .with_context(|| {
            format!(
                "add {}/{} to {} in the container",
                plan.address, plan.prefix, plan.peer_name
            )
        })?;
    inside
        .set_up(eth.index)
        .with_context(|| format!("bring {} up in the container", plan.peer_name))?;
    inside
        .add_default_route(plan.gateway, eth.index)
        .with_context(|| format!("add default route via {} in the container", plan.gateway))?;
    Ok(())
}

/// `sj` + 13 hex digits of a stable FNV-1a hash of the id: ≤ 15 bytes, the same for the same id
/// in every sangja version (std's hasher promises no such thing).
pub fn veth_name(id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("sj{:013x}", h >> 12)
}

#[cfg(test)]
pub mod fake {
    //! A recording [`Links`] with one namespace per instance and a call to fail on.
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// (index, kind, up, addresses) of one fake link.
    pub type FakeLink = (u32, Option<String>, bool, Vec<String>);

    #[derive(Debug, Default)]
    pub struct World {
        /// (namespace "host" or "ctr", name) → link.
        pub links: BTreeMap<(String, String), FakeLink>,
        pub routes: Vec<(String, String)>,
        pub calls: Vec<String>,
        pub fail_on: Option<String>,
        next: u32,
    }

    #[derive(Clone)]
    pub struct Fake {
        pub ns: String,
        pub world: Arc<Mutex<World>>,
    }

    impl Fake {
        pub fn new(world: &Arc<Mutex<World>>, ns: &str) -> Fake {
            Fake {
                ns: ns.into(),
                world: world.clone(),
            }
        }
        fn call(&self, c: String) -> Result<std::sync::MutexGuard<'_, World>> {
            let mut w = self.world.lock().unwrap();
            let fail = w.fail_on.as_deref().is_some_and(|f| c.starts_with(f));
            w.calls.push(format!("{}: {c}", self.ns));
            if fail {
                bail!("injected failure at {c}");
            }
            Ok(w)
        }
        fn add(&self, w: &mut World, ns: &str, name: &str, kind: &str) {
            w.next += 1;
            let idx = w.next;
            w.links.insert(
                (ns.into(), name.into()),
                (idx, Some(kind.into()), false, vec![]),
            );
        }
    }

    impl Links for Fake {
        fn link(&mut self, name: &str) -> Result<Option<LinkFacts>> {
            let w = self.world.lock().unwrap();
            Ok(w.links
                .get(&(self.ns.clone(), name.to_string()))
                .map(|(i, k, _, _)| LinkFacts {
                    index: *i,
                    mtu: 1500,
                    kind: k.clone(),
                }))
        }
        fn add_bridge(&mut self, name: &str) -> Result<bool> {
            let mut w = self.call(format!("add_bridge {name}"))?;
            let ns = self.ns.clone();
            self.add(&mut w, &ns, name, "bridge");
            Ok(true)
        }
        fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<()> {
            let mut w = self.call(format!("add_address {index} {ip}/{prefix}"))?;
            let ns = self.ns.clone();
            for ((n, _), l) in w.links.iter_mut() {
                if *n == ns && l.0 == index {
                    l.3.push(format!("{ip}/{prefix}"));
                }
            }
            Ok(())
        }
        fn set_up(&mut self, index: u32) -> Result<()> {
            let mut w = self.call(format!("set_up {index}"))?;
            let ns = self.ns.clone();
            for ((n, _), l) in w.links.iter_mut() {
                if *n == ns && l.0 == index {
                    l.2 = true;
                }
            }
            Ok(())
        }
        fn add_veth(
            &mut self,
            host: &str,
            peer: &str,
            _netns: BorrowedFd<'_>,
            mtu: u32,
            master: u32,
        ) -> Result<()> {
            let mut w = self.call(format!("add_veth {host} {peer} mtu {mtu} master {master}"))?;
            let ns = self.ns.clone();
            self.add(&mut w, &ns, host, "veth");
            self.add(&mut w, "ctr", peer, "veth");
            Ok(())
        }
        fn delete(&mut self, name: &str) -> Result<bool> {
            let mut w = self.call(format!("delete {name}"))?;
            let ns = self.ns.clone();
            let had = w.links.remove(&(ns, name.to_string())).is_some();
            if had && name.starts_with("sj") {
                w.links.remove(&("ctr".to_string(), "eth0".to_string()));
            }
            Ok(had)
        }
        fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()> {
            let mut w = self.call(format!("add_default_route {gateway} {index}"))?;
            let ns = self.ns.clone();
            w.routes.push((ns, gateway.to_string()));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;
    use std::os::fd::AsFd;
    use std::sync::{Arc, Mutex};

    fn world() -> Arc<Mutex<World>> {
        let w = Arc::new(Mutex::new(World::default()));
        {
            let mut g = w.lock().unwrap();
            g.links
                .insert(("ctr".into(), "lo".into()), (100, None, false, vec![]));
        }
        w
    }

    fn plan() -> VethPlan {
        VethPlan {
            host_name: veth_name("web"),
            peer_name: "eth0".into(),
            mtu: 1500,
            bridge_index: 1,
            address: Ipv4Addr::new(10, 123, 0, 2),
            prefix: 24,
            gateway: Ipv4Addr::new(10, 123, 0, 1),
        }
    }

    #[test]
    fn bridge_created_once_then_reused() {
        let w = world();
        let mut host = Fake::new(&w, "host");
        let gw = Ipv4Addr::new(10, 123, 0, 1);
        let b = ensure_bridge(&mut host, "sangja0", gw, 24).unwrap();
        assert!(b.created);
        let b2 = ensure_bridge(&mut host, "sangja0", gw, 24).unwrap();
        assert!(!b2.created);
        assert_eq!(b.index, b2.index);
        let calls = w.lock().unwrap().calls.clone();
        assert_eq!(
            calls,
            vec![
                "host: add_bridge sangja0",
                "host: add_address 1 10.123.0.1/24",
                "host: set_up 1",
                "host: add_address 1 10.123.0.1/24",
                "host: set_up 1",
            ]
        );
    }

    #[test]
    fn a_non_bridge_of_that_name_is_refused() {
        let w = world();
        w.lock()
            .unwrap()
            .links
            .insert(("host".into(), "eth9".into()), (7, None, true, vec![]));
        let mut host = Fake::new(&w, "host");
        let e = ensure_bridge(&mut host, "eth9", Ipv4Addr::new(10, 1, 0, 1), 24).unwrap_err();
        assert_eq!(e.to_string(), "eth9 exists and is not a bridge (kind none)");
    }

    #[test]
    fn plumb_order_and_arguments() {
        let w = world();
        let mut host = Fake::new(&w, "host");
        let null = std::fs::File::open("/dev/null").unwrap();
        let w2 = w.clone();
        let mut open = move || -> Result<Box<dyn Links>> { Ok(Box::new(Fake::new(&w2, "ctr"))) };
        plumb(&mut host, null.as_fd(), &mut open, &plan()).unwrap();
        let g = w.lock().unwrap();
        let v = veth_name("web");
        assert_eq!(
            g.calls,
            vec![
                format!("host: add_veth {v} eth0 mtu 1500 master 1"),
                "host: set_up 1".to_string(),
                "ctr: set_up 100".to_string(),
                "ctr: add_address 2 10.123.0.2/24".to_string(),
                "ctr: set_up 2".to_string(),
                "ctr: add_default_route 10.123.0.1 2".to_string(),
            ]
        );
        assert_eq!(
            g.routes,
            vec![("ctr".to_string(), "10.123.0.1".to_string())]
        );
    }

    #[test]
    fn failure_after_the_veth_removes_it() {
        for step in [
            "set_up 1",
            "set_up 100",
            "add_address",
            "set_up 2",
            "add_default_route",
        ] {
            let w = world();
            w.lock().unwrap().fail_on = Some(step.into());
            let mut host = Fake::new(&w, "host");
            let null = std::fs::File::open("/dev/null").unwrap();
            let w2 = w.clone();
            let mut open =
                move || -> Result<Box<dyn Links>> { Ok(Box::new(Fake::new(&w2, "ctr"))) };
            let e = plumb(&mut host, null.as_fd(), &mut open, &plan()).unwrap_err();
            assert!(
                format!("{e:#}").contains("injected failure"),
                "{step}: {e:#}"
            );
            let g = w.lock().unwrap();
            assert_eq!(
                g.calls.last().unwrap(),
                &format!("host: delete {}", veth_name("web"))
            );
            assert!(
                g.links.keys().all(|(_, n)| n == "lo"),
                "{step}: {:?}",
                g.links
            );
        }
    }

    #[test]
    fn failure_creating_the_veth_needs_no_undo() {
        let w = world();
        w.lock().unwrap().fail_on = Some("add_veth".into());
        let mut host = Fake::new(&w, "host");
        let null = std::fs::File::open("/dev/null").unwrap();
        let mut open = || -> Result<Box<dyn Links>> { bail!("not reached") };
        assert!(plumb(&mut host, null.as_fd(), &mut open, &plan()).is_err());
        assert_eq!(w.lock().unwrap().calls.len(), 1);
    }

    #[test]
    fn veth_names_are_short_stable_and_distinct() {
        let a = veth_name("web");
        assert_eq!(a.len(), 15);
        assert_eq!(a, veth_name("web"));
        let names: std::collections::HashSet<String> =
            (0..10_000).map(|i| veth_name(&format!("c{i}"))).collect();
        assert_eq!(names.len(), 10_000);
    }
}
