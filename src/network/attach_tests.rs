//! prepare/attach/detach against a fake kernel: order, rollback, reclaim, idempotence.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::*;
use crate::network::link::fake::{Fake, World};

#[derive(Default)]
struct FwState {
    elements: BTreeSet<String>,
    fail_add: bool,
    adds: usize,
}

struct FakeFw(Arc<Mutex<FwState>>);

impl Firewall for FakeFw {
    fn add(&mut self, r: &Rules) -> Result<()> {
        let mut s = self.0.lock().unwrap();
        s.adds += 1;
        if s.fail_add {
            bail!("nft: Could not process rule: File exists");
        }
        for e in crate::network::nft::elements(r) {
            s.elements.insert(format!("{} {}", e.set, e.full));
        }
        Ok(())
    }
    fn remove(&mut self, r: &Rules) -> Result<()> {
        let mut s = self.0.lock().unwrap();
        for e in crate::network::nft::elements(r) {
            s.elements.remove(&format!("{} {}", e.set, e.full));
        }
        Ok(())
    }
    fn remove_subnet(&mut self, _: Subnet) -> Result<()> {
        Ok(())
    }
    fn remove_table(&mut self) -> Result<()> {
        self.0.lock().unwrap().elements.clear();
        Ok(())
    }
}

struct FakeSys {
    world: Arc<Mutex<World>>,
    fw: Arc<Mutex<FwState>>,
    sysctls: BTreeMap<String, String>,
    resolv: (PathBuf, PathBuf),
}

impl FakeSys {
    fn new(dir: &Path) -> FakeSys {
        let world = Arc::new(Mutex::new(World::default()));
        world
            .lock()
            .unwrap()
            .links
            .insert(("ctr".into(), "lo".into()), (100, None, false, vec![]));
        let host = dir.join("host-resolv.conf");
        std::fs::write(&host, "nameserver 127.0.0.53\nnameserver 192.0.2.53\n").unwrap();
        FakeSys {
            world,
            fw: Arc::default(),
            sysctls: BTreeMap::new(),
            resolv: (host, dir.join("none")),
        }
    }
    fn host_link_names(&self) -> Vec<String> {
        let w = self.world.lock().unwrap();
        w.links
            .keys()
            .filter(|(ns, _)| ns == "host")
            .map(|(_, n)| n.clone())
            .collect()
    }
}

impl System for FakeSys {
    fn host_links(&mut self) -> Result<Box<dyn Links>> {
        Ok(Box::new(Fake::new(&self.world, "host")))
    }
    fn inside_links(&mut self, _: &File) -> Result<Box<dyn Links>> {
        Ok(Box::new(Fake::new(&self.world, "ctr")))
    }
    fn firewall(&mut self) -> Result<Box<dyn Firewall>> {
        Ok(Box::new(FakeFw(self.fw.clone())))
    }
    fn sysctl(&mut self, path: &[&str], value: &str) -> Result<bool> {
        let old = self.sysctls.insert(path.join("/"), value.to_string());
        Ok(old.as_deref() != Some(value))
    }
    fn open_netns(&mut self, _: i32) -> Result<File> {
        Ok(File::open("/dev/null")?)
    }
    fn resolv_sources(&self) -> (PathBuf, PathBuf) {
        self.resolv.clone()
    }
}

fn request(id: &str, ann: &[(&str, &str)]) -> Request {
    let mut spec = crate::spec::default_spec(false);
    let mut map: std::collections::HashMap<String, String> =
        [("run.sangja.network".to_string(), "bridge".to_string())].into();
    for (k, v) in ann {
        map.insert(k.to_string(), v.to_string());
    }
    spec.set_annotations(Some(map));
    Request::from_spec(&spec, id).unwrap().unwrap()
}

fn all_alive(_: &str) -> bool {
    true
}

#[test]
fn prepare_attach_detach_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    let req = request("web", &[("run.sangja.network.ports", "8080:80")]);
    let prep = prepare_with(&mut sys, root, &req, &all_alive, 60).unwrap();
    let a = &prep.attachment;
    assert_eq!(a.address.to_string(), "10.123.0.2");
    assert_eq!(a.gateway.to_string(), "10.123.0.1");
    let hosts = std::fs::read_to_string(&a.hosts_file).unwrap();
    assert!(hosts.contains("10.123.0.2\tweb\tsangja\n"), "{hosts}");
    let resolv = std::fs::read_to_string(&a.resolv_conf).unwrap();
    assert!(resolv.contains("nameserver 192.0.2.53") && !resolv.contains("127.0.0.53"));
    // nothing on the "kernel" before attach
    assert!(sys.host_link_names().is_empty());

    let att = attach_with(&mut sys, root, &prep, 4242).unwrap();
    assert_eq!(att.veth, link::veth_name("web"));
    assert_eq!(
        sys.host_link_names(),
        vec!["sangja0".to_string(), att.veth.clone()]
    );
    assert_eq!(sys.sysctls["net/ipv4/ip_forward"], "1");
    assert_eq!(sys.sysctls["net/ipv4/conf/sangja0/route_localnet"], "1");
    assert_eq!(sys.fw.lock().unwrap().elements.len(), 2);
    assert!(
        att.notes.iter().any(|n| n.contains("ip_forward")),
        "{:?}",
        att.notes
    );

    // survives a round trip through the caller's state.json
    let stored: Attachment = serde_json::from_str(&serde_json::to_string(&att).unwrap()).unwrap();
    detach_with(&mut sys, root, &stored).unwrap();
    assert_eq!(
        sys.host_link_names(),
        vec!["sangja0".to_string()],
        "the bridge stays"
    );
    assert!(sys.fw.lock().unwrap().elements.is_empty());
    assert!(!stored.resolv_conf.exists());
    let hosts = std::fs::read_to_string(&a.hosts_file).unwrap();
    assert!(!hosts.contains("web"), "{hosts}");
    assert!(NetDir::new(root, "sangja0")
        .load_leases()
        .unwrap()
        .leases
        .is_empty());
    // idempotent
    detach_with(&mut sys, root, &stored).unwrap();
}

#[test]
fn failure_after_the_veth_leaves_no_veth_lease_or_hosts_entry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    sys.fw.lock().unwrap().fail_add = true;
    let req = request("web", &[("run.sangja.network.ports", "8080:80")]);
    let prep = prepare_with(&mut sys, root, &req, &all_alive, 60).unwrap();
    let e = attach_with(&mut sys, root, &prep, 1).unwrap_err();
    assert!(format!("{e:#}").contains("File exists"), "{e:#}");
    let calls = sys.world.lock().unwrap().calls.clone();
    assert!(
        calls.iter().any(|c| c.starts_with("host: add_veth")),
        "{calls:?}"
    );
    assert_eq!(sys.host_link_names(), vec!["sangja0".to_string()]);
    assert!(NetDir::new(root, "sangja0")
        .load_leases()
        .unwrap()
        .leases
        .is_empty());
    let hosts = std::fs::read_to_string(&prep.attachment.hosts_file).unwrap();
    assert!(!hosts.contains("web"));
    assert!(!prep.attachment.resolv_conf.exists());
}

#[test]
fn failure_inside_the_container_is_undone_too() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    sys.world.lock().unwrap().fail_on = Some("add_default_route".into());
    let prep = prepare_with(&mut sys, root, &request("a", &[]), &all_alive, 60).unwrap();
    assert!(attach_with(&mut sys, root, &prep, 1).is_err());
    assert_eq!(sys.host_link_names(), vec!["sangja0".to_string()]);
    assert!(NetDir::new(root, "sangja0")
        .load_leases()
        .unwrap()
        .leases
        .is_empty());
    assert_eq!(sys.fw.lock().unwrap().adds, 0);
}

#[test]
fn static_ip_taken_and_port_taken_are_refused_before_anything_exists() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    let a = prepare_with(
        &mut sys,
        root,
        &request(
            "a",
            &[
                ("run.sangja.network.ip", "10.123.0.9"),
                ("run.sangja.network.ports", "80:80"),
            ],
        ),
        &all_alive,
        60,
    )
    .unwrap();
    assert_eq!(a.attachment.address.to_string(), "10.123.0.9");
    let e = prepare_with(
        &mut sys,
        root,
        &request("b", &[("run.sangja.network.ip", "10.123.0.9")]),
        &all_alive,
        60,
    )
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "network sangja0: address 10.123.0.9 is already used by container a"
    );
    let e = prepare_with(
        &mut sys,
        root,
        &request("b", &[("run.sangja.network.ports", "80:8080")]),
        &all_alive,
        60,
    )
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "host port 80:8080/tcp is already published by container a"
    );
    let e = prepare_with(
        &mut sys,
        root,
        &request("b", &[("run.sangja.network.subnet", "10.5.0.0/24")]),
        &all_alive,
        60,
    )
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("has subnet 10.123.0.0/24"),
        "{e:#}"
    );
    assert_eq!(
        NetDir::new(root, "sangja0")
            .load_leases()
            .unwrap()
            .leases
            .len(),
        1
    );
    assert!(sys.world.lock().unwrap().calls.is_empty());
}

#[test]
fn leases_of_gone_containers_are_reclaimed_with_their_host_side() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    let prep = prepare_with(
        &mut sys,
        root,
        &request("dead", &[("run.sangja.network.ports", "80:80")]),
        &all_alive,
        60,
    )
    .unwrap();
    attach_with(&mut sys, root, &prep, 1).unwrap();
    // "dead" died without delete; a new container asking for its port gets it back
    let alive = |id: &str| id != "dead";
    let p2 = prepare_with(
        &mut sys,
        root,
        &request("new", &[("run.sangja.network.ports", "80:80")]),
        &alive,
        0,
    )
    .unwrap();
    assert!(p2
        .attachment
        .notes
        .iter()
        .any(|n| n.contains("reclaimed lease 10.123.0.2 of gone container dead")));
    assert!(!sys.host_link_names().contains(&link::veth_name("dead")));
    assert!(sys.fw.lock().unwrap().elements.is_empty());
    let ids: Vec<String> = NetDir::new(root, "sangja0")
        .load_leases()
        .unwrap()
        .leases
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, vec!["new"]);
}

#[test]
fn young_leases_are_not_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    prepare_with(&mut sys, root, &request("creating", &[]), &all_alive, 60).unwrap();
    let none_alive = |_: &str| false;
    let p = prepare_with(&mut sys, root, &request("other", &[]), &none_alive, 60).unwrap();
    assert_eq!(p.attachment.address.to_string(), "10.123.0.3");
}

#[test]
fn detach_reports_every_failure_and_still_releases_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    let prep = prepare_with(&mut sys, root, &request("a", &[]), &all_alive, 60).unwrap();
    let att = attach_with(&mut sys, root, &prep, 1).unwrap();
    sys.world.lock().unwrap().fail_on = Some("delete".into());
    let e = detach_with(&mut sys, root, &att).unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert!(
        e.to_string()
            .starts_with("network teardown of a: delete veth"),
        "{e}"
    );
    assert!(NetDir::new(root, "sangja0")
        .load_leases()
        .unwrap()
        .leases
        .is_empty());
}

#[test]
fn networks_get_distinct_subnets_and_can_be_removed_when_unused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut sys = FakeSys::new(root);
    let a = prepare_with(&mut sys, root, &request("a", &[]), &all_alive, 60).unwrap();
    let b = prepare_with(
        &mut sys,
        root,
        &request("b", &[("run.sangja.network.bridge", "blue")]),
        &all_alive,
        60,
    )
    .unwrap();
    assert_eq!(b.attachment.subnet.to_string(), "10.123.1.0/24");
    let att = attach_with(&mut sys, root, &b, 1).unwrap();
    let e = remove_network_with(&mut sys, root, "blue", &all_alive).unwrap_err();
    assert_eq!(e.to_string(), "network blue is still used by b");
    detach_with(&mut sys, root, &att).unwrap();
    remove_network_with(&mut sys, root, "blue", &all_alive).unwrap();
    assert!(!root.join("_networks/blue").exists());
    assert!(!sys.host_link_names().contains(&"blue".to_string()));
    assert_eq!(a.attachment.network, "sangja0");
}
