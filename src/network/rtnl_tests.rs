use super::*;
use crate::network::netlink::test_encode::attr;

/// An `RTM_NEWLINK` payload as the kernel answers a GETLINK: header, then a few attributes.
fn newlink(index: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut p = ifinfomsg(index, 0x1043, 0).to_vec();
    for a in attrs {
        p.extend_from_slice(a);
    }
    p
}

#[test]
fn a_getlink_reply_yields_index_mtu_and_kind() {
    let linkinfo = [
        attr(libc::IFLA_INFO_KIND, b"bridge\0"),
        attr(libc::IFLA_INFO_DATA, &attr(1, &[0; 4])),
    ]
    .concat();
    let p = newlink(
        7,
        &[
            attr(libc::IFLA_IFNAME, b"sangja0\0"),
            attr(libc::IFLA_MTU, &9000u32.to_ne_bytes()),
            attr(libc::IFLA_STATS64, &[0; 200]),
            attr(libc::IFLA_LINKINFO | 0x8000, &linkinfo), // NLA_F_NESTED set
        ],
    );
    let f = link_facts(&p).unwrap();
    assert_eq!(
        f,
        LinkFacts {
            index: 7,
            mtu: 9000,
            kind: Some("bridge".into())
        }
    );
}

#[test]
fn a_plain_device_has_no_kind_and_a_default_mtu() {
    let f = link_facts(&newlink(1, &[attr(libc::IFLA_IFNAME, b"lo\0")])).unwrap();
    assert_eq!((f.index, f.mtu, f.kind), (1, 1500, None));
}

#[test]
fn a_malformed_getlink_reply_is_an_error() {
    assert!(link_facts(&[0; 12]).is_err());
    let short_mtu = newlink(1, &[attr(libc::IFLA_MTU, &[0; 2])]);
    assert!(link_facts(&short_mtu).is_err());
    let mut cut = newlink(1, &[attr(libc::IFLA_IFNAME, b"eth0\0")]);
    cut.truncate(cut.len() - 4);
    assert!(link_facts(&cut).is_err());
    let bad_nest = newlink(1, &[attr(libc::IFLA_LINKINFO, &[9, 0, 1, 0])]);
    assert!(link_facts(&bad_nest).is_err());
}

#[test]
fn fixed_headers_lay_out_like_the_kernel_structs() {
    let l = ifinfomsg(5, 1, 1);
    assert_eq!(&l[..4], &[0; 4]);
    assert_eq!(l[4..8], 5u32.to_ne_bytes());
    assert_eq!(l[8..12], 1u32.to_ne_bytes());
    assert_eq!(l[12..16], 1u32.to_ne_bytes());
    let a = ifaddrmsg(24, 3);
    assert_eq!(&a[..4], &[libc::AF_INET as u8, 24, 0, 0]);
    assert_eq!(a[4..8], 3u32.to_ne_bytes());
    assert_eq!(rtmsg_default_v4(), [2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
}
