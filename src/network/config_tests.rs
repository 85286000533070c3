use super::*;
use crate::spec::default_spec;

fn spec_with(ann: &[(&str, &str)]) -> Spec {
    let mut spec = default_spec(false);
    spec.set_annotations(Some(
        ann.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    ));
    spec
}

fn err(ann: &[(&str, &str)]) -> String {
    Request::from_spec(&spec_with(ann), "c")
        .unwrap_err()
        .to_string()
}

#[test]
fn not_asked_means_none() {
    assert_eq!(Request::from_spec(&default_spec(false), "c").unwrap(), None);
    assert_eq!(
        Request::from_spec(&spec_with(&[(KEY_MODE, "none")]), "c").unwrap(),
        None
    );
}

#[test]
fn defaults_of_bridge_mode() {
    let mut spec = spec_with(&[(KEY_MODE, "bridge")]);
    spec.set_hostname(Some("box".into()));
    let r = Request::from_spec(&spec, "c1").unwrap().unwrap();
    assert_eq!(
        r,
        Request {
            id: "c1".into(),
            bridge: "sangja0".into(),
            subnet: None,
            ip: None,
            ports: vec![],
            dns: vec![],
            hostname: Some("box".into()),
            nat: true,
        }
    );
}

#[test]
fn every_key_parsed() {
    let r = Request::from_spec(
        &spec_with(&[
            (KEY_MODE, "bridge"),
            (KEY_BRIDGE, "br-test"),
            (KEY_SUBNET, "10.50.0.0/16"),
            (KEY_IP, "10.50.3.4"),
            (
                KEY_PORTS,
                "8080:80, 127.0.0.1:5353:53/udp,0.0.0.0:2222:22/tcp",
            ),
            (KEY_DNS, "192.0.2.53,2001:db8::53"),
            (KEY_HOSTNAME, "web.local"),
            (KEY_NAT, "false"),
        ]),
        "c",
    )
    .unwrap()
    .unwrap();
    assert_eq!(r.bridge, "br-test");
    assert_eq!(r.subnet.unwrap().to_string(), "10.50.0.0/16");
    assert_eq!(r.ip.unwrap().to_string(), "10.50.3.4");
    let ports: Vec<String> = r.ports.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        ports,
        vec!["8080:80/tcp", "127.0.0.1:5353:53/udp", "2222:22/tcp"]
    );
    assert_eq!(r.dns.len(), 2);
    assert_eq!(r.hostname.as_deref(), Some("web.local"));
    assert!(!r.nat);
}

#[test]
fn errors_name_the_annotation() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[(KEY_MODE, "macvlan")], "invalid config: annotations.run.sangja.network: \"macvlan\" is not \"bridge\" or \"none\""),
        (&[(KEY_PORTS, "80:80")], "invalid config: annotations.run.sangja.network.ports: needs run.sangja.network=bridge"),
        (&[(KEY_MODE, "bridge"), ("run.sangja.network.prot", "1")], "invalid config: annotations.run.sangja.network.prot: unknown sangja network key"),
        (&[(KEY_MODE, "bridge"), (KEY_BRIDGE, "a-very-long-bridge")], "invalid config: annotations.run.sangja.network.bridge: \"a-very-long-bridge\" must be 1 to 15 bytes long"),
        (&[(KEY_MODE, "bridge"), (KEY_BRIDGE, "a/b")], "invalid config: annotations.run.sangja.network.bridge: \"a/b\" may only hold letters, digits, '-', '_' and '.'"),
        (&[(KEY_MODE, "bridge"), (KEY_SUBNET, "10.1.2.3/24")], "invalid config: annotations.run.sangja.network.subnet: 10.1.2.3/24 has host bits set"),
        (&[(KEY_MODE, "bridge"), (KEY_SUBNET, "10.0.0.0/31")], "invalid config: annotations.run.sangja.network.subnet: prefix /31 is outside /8../30"),
        (&[(KEY_MODE, "bridge"), (KEY_IP, "fe80::1")], "invalid config: annotations.run.sangja.network.ip: \"fe80::1\" is not an IPv4 address"),
        (&[(KEY_MODE, "bridge"), (KEY_SUBNET, "10.9.0.0/24"), (KEY_IP, "10.9.0.1")], "invalid config: annotations.run.sangja.network.ip: 10.9.0.1 is not an assignable address of 10.9.0.0/24 (network, gateway and broadcast are reserved)"),
        (&[(KEY_MODE, "bridge"), (KEY_PORTS, "80:0")], "invalid config: annotations.run.sangja.network.ports: \"80:0\": \"0\" is not a port number (1-65535)"),
        (&[(KEY_MODE, "bridge"), (KEY_PORTS, "80:80/sctp")], "invalid config: annotations.run.sangja.network.ports: \"80:80/sctp\": protocol \"sctp\" is not tcp or udp"),
        (&[(KEY_MODE, "bridge"), (KEY_PORTS, "80")], "invalid config: annotations.run.sangja.network.ports: \"80\" is not [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]"),
        (&[(KEY_MODE, "bridge"), (KEY_PORTS, "80:1,127.0.0.1:80:2")], "invalid config: annotations.run.sangja.network.ports: 127.0.0.1:80:2/tcp and 80:1/tcp publish the same host port"),
        (&[(KEY_MODE, "bridge"), (KEY_DNS, "dns.example")], "invalid config: annotations.run.sangja.network.dns: \"dns.example\" is not an IP address"),
        (&[(KEY_MODE, "bridge"), (KEY_HOSTNAME, "bad name")], "invalid config: annotations.run.sangja.network.hostname: \"bad name\" is not a valid host name"),
        (&[(KEY_MODE, "bridge"), (KEY_NAT, "yes")], "invalid config: annotations.run.sangja.network.nat: \"yes\" is not true or false"),
    ];
    for (ann, want) in cases {
        assert_eq!(err(ann), *want);
    }
}

#[test]
fn bridge_needs_a_new_network_namespace() {
    let mut spec = spec_with(&[(KEY_MODE, "bridge")]);
    let mut linux = spec.linux().clone().unwrap();
    let mut nss = linux.namespaces().clone().unwrap();
    for ns in nss.iter_mut() {
        if ns.typ() == LinuxNamespaceType::Network {
            ns.set_path(Some("/var/run/netns/x".into()));
        }
    }
    linux.set_namespaces(Some(nss.clone()));
    spec.set_linux(Some(linux.clone()));
    assert!(validate(&spec)
        .unwrap_err()
        .to_string()
        .contains("joins /var/run/netns/x"));
    nss.retain(|ns| ns.typ() != LinuxNamespaceType::Network);
    linux.set_namespaces(Some(nss));
    spec.set_linux(Some(linux));
    assert!(validate(&spec)
        .unwrap_err()
        .to_string()
        .contains("has no network entry"));
}

fn net_ns(spec: &Spec) -> Option<Option<std::path::PathBuf>> {
    network_namespace(spec).map(|ns| ns.path().clone())
}

#[test]
fn run_flags_edit_the_spec() {
    let mut spec = default_spec(false);
    let flags = RunFlags {
        network: Some("bridge=br1".parse().unwrap()),
        publish: vec!["8080:80".into(), "53:53/udp".into()],
        ip: Some("10.123.0.7".into()),
        subnet: None,
        dns: vec!["192.0.2.1".into()],
    };
    apply_run_flags(&mut spec, &flags).unwrap();
    let ann = spec.annotations().clone().unwrap();
    assert_eq!(ann[KEY_MODE], "bridge");
    assert_eq!(ann[KEY_BRIDGE], "br1");
    assert_eq!(ann[KEY_PORTS], "8080:80,53:53/udp");
    assert_eq!(ann[KEY_IP], "10.123.0.7");
    assert_eq!(ann[KEY_DNS], "192.0.2.1");
    assert_eq!(net_ns(&spec), Some(None));

    let mut host = default_spec(false);
    apply_run_flags(
        &mut host,
        &RunFlags {
            network: Some(NetworkMode::Host),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(net_ns(&host), None);

    let mut none = spec.clone();
    apply_run_flags(
        &mut none,
        &RunFlags {
            network: Some(NetworkMode::None),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(net_ns(&none), Some(None));
    assert!(Request::from_spec(&none, "c").unwrap().is_none());

    let mut implied = default_spec(false);
    apply_run_flags(
        &mut implied,
        &RunFlags {
            publish: vec!["80:80".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(implied.annotations().clone().unwrap()[KEY_MODE], "bridge");

    let e = apply_run_flags(
        &mut default_spec(false),
        &RunFlags {
            network: Some(NetworkMode::Host),
            publish: vec!["80:80".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("invalid config: --network:"),
        "{e}"
    );
    let e = apply_run_flags(
        &mut default_spec(false),
        &RunFlags {
            publish: vec!["80".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("annotations.run.sangja.network.ports"),
        "{e}"
    );
    assert_eq!(
        "bridge=".parse::<NetworkMode>().unwrap_err(),
        "\"\" must be 1 to 15 bytes long"
    );
    assert!("container:x".parse::<NetworkMode>().is_err());
}

#[test]
fn subnet_arithmetic() {
    let s: Subnet = "10.123.4.0/22".parse().unwrap();
    assert!(s.contains("10.123.7.255".parse().unwrap()));
    assert!(!s.contains("10.123.8.0".parse().unwrap()));
    assert_eq!(s.broadcast().to_string(), "10.123.7.255");
    assert_eq!(s.gateway().to_string(), "10.123.4.1");
    assert!(s.overlaps(&"10.123.0.0/16".parse().unwrap()));
    assert!(!s.overlaps(&"10.123.8.0/24".parse().unwrap()));
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, "\"10.123.4.0/22\"");
    assert_eq!(serde_json::from_str::<Subnet>(&json).unwrap(), s);
}
