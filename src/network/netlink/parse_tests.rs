use super::*;
use crate::network::netlink::test_encode::attr;

fn msg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(payload);
    b.resize((b.len() + 3) & !3, 0);
    b
}

fn error_msg(seq: u32, code: i32) -> Vec<u8> {
    let mut p = code.to_ne_bytes().to_vec();
    p.extend_from_slice(&[0; 16]); // the request's header, echoed
    msg(NLMSG_ERROR, seq, &p)
}

fn all(buf: &[u8]) -> io::Result<Vec<Msg<'_>>> {
    messages(buf).collect()
}

fn invalid<T: std::fmt::Debug>(r: io::Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == io::ErrorKind::InvalidData)
}

#[test]
fn messages_of_a_datagram_in_order() {
    let mut b = msg(16, 5, b"abcde");
    b.extend(error_msg(5, 0));
    let m = all(&b).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].kind, m[0].seq, m[0].payload), (16, 5, &b"abcde"[..]));
    assert_eq!((m[1].kind, m[1].payload.len()), (NLMSG_ERROR, 20));
}

#[test]
fn the_last_message_may_lack_its_padding() {
    let mut b = msg(16, 1, b"abc");
    b.truncate(16 + 3);
    assert_eq!(all(&b).unwrap()[0].payload, b"abc");
}

#[test]
fn bad_message_lengths_are_errors() {
    let good = msg(16, 1, b"abcd");
    assert!(invalid(all(&good[..10])), "header cut short");
    assert!(invalid(all(&good[..18])), "payload cut short");
    for len in [0u32, 4, 15, 21, u32::MAX] {
        let mut b = good.clone();
        b[..4].copy_from_slice(&len.to_ne_bytes());
        assert!(invalid(all(&b)), "nlmsg_len {len}");
    }
    // After a good message, three stray bytes.
    let mut b = good.clone();
    b.extend_from_slice(&[1, 2, 3]);
    assert!(invalid(all(&b)));
}

#[test]
fn iteration_stops_at_the_first_error() {
    let mut b = vec![0u8; 16]; // nlmsg_len 0
    b.extend(msg(16, 1, b""));
    let items: Vec<_> = messages(&b).collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());
}

#[test]
fn attributes_with_flags_masked_and_nested() {
    let inner = attr(1, b"bridge\0");
    let mut b = attr(4, &1500u32.to_ne_bytes());
    b.extend(attr(18 | 0x8000, &inner)); // NLA_F_NESTED set, as some kernels do
    let a: Vec<_> = attrs(&b).collect::<io::Result<_>>().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(u32_value(a[0].1).unwrap(), 1500);
    assert_eq!(a[1].0, 18);
    let kinds: Vec<_> = attrs(a[1].1).collect::<io::Result<_>>().unwrap();
    assert_eq!(str_value(kinds[0].1).unwrap(), "bridge");
}

#[test]
fn bad_attribute_lengths_are_errors() {
    let good = attr(3, b"eth0\0");
    for len in [0u16, 3, 13, u16::MAX] {
        let mut b = good.clone();
        b[..2].copy_from_slice(&len.to_ne_bytes());
        assert!(
            invalid(attrs(&b).collect::<io::Result<Vec<_>>>()),
            "rta_len {len}"
        );
    }
    assert!(invalid(attrs(&good[..2]).collect::<io::Result<Vec<_>>>()));
    assert!(invalid(attrs(&good[..7]).collect::<io::Result<Vec<_>>>()));
}

#[test]
fn value_decoders_check_their_input() {
    assert!(invalid(u32_value(&[1, 2, 3])));
    assert!(invalid(u32_value(&[1, 2, 3, 4, 5])));
    assert_eq!(str_value(b"veth").unwrap(), "veth");
    assert_eq!(str_value(b"veth\0\0").unwrap(), "veth");
    assert!(invalid(str_value(b"\xff\xfe\0")));
    assert!(invalid(split_fixed(&[0; 15], 16)));
    let payload = [[7u8; 16].as_slice(), &attr(3, b"x\0")].concat();
    let (fixed, rest) = split_fixed(&payload, 16).unwrap();
    assert_eq!((fixed.len(), rest.len()), (16, 8));
    assert_eq!(split_fixed(&[0; 16], 16).unwrap().1, b"");
}

#[test]
fn outcomes_of_control_messages() {
    let kind_of = |b: &[u8]| outcome(&all(b).unwrap()[0]);
    assert_eq!(kind_of(&error_msg(1, 0)).unwrap(), Outcome::Ack);
    let e = kind_of(&error_msg(1, -libc::EEXIST)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    assert!(invalid(kind_of(&error_msg(1, i32::MIN))));
    assert!(invalid(kind_of(&error_msg(1, 3))));
    assert!(invalid(kind_of(&msg(NLMSG_ERROR, 1, &[0, 0]))));
    assert_eq!(
        kind_of(&msg(NLMSG_DONE, 1, &[0; 4])).unwrap(),
        Outcome::Done
    );
    assert_eq!(kind_of(&msg(1, 1, b"")).unwrap(), Outcome::Other); // NLMSG_NOOP
    assert_eq!(kind_of(&msg(16, 1, b"")).unwrap(), Outcome::Answer);
}

/// Walk everything that parses, attributes nested in attributes included.
fn walk(buf: &[u8]) {
    for m in messages(buf) {
        let Ok(m) = m else { return };
        let _ = outcome(&m);
        if let Ok((_, a)) = split_fixed(m.payload, 16) {
            walk_attrs(a, 0);
        }
    }
}

fn walk_attrs(buf: &[u8], depth: u32) {
    for a in attrs(buf) {
        let Ok((_, v)) = a else { return };
        let _ = (u32_value(v), str_value(v));
        if depth < 4 {
            walk_attrs(v, depth + 1);
        }
    }
}

#[test]
fn every_prefix_of_a_reply_is_handled_without_panic() {
    let mut payload = vec![0u8; 16];
    payload.extend(attr(3, b"sangja0\0"));
    payload.extend(attr(18, &attr(1, b"bridge\0")));
    let mut b = msg(16, 9, &payload);
    b.extend(error_msg(9, 0));
    for n in 0..=b.len() {
        walk(&b[..n]);
        let complete = n == b.len() || n == msg(16, 9, &payload).len();
        assert_eq!(all(&b[..n]).is_ok(), n == 0 || complete, "prefix {n}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let len = (next() % 160) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Plausible lengths now and then, so the walk gets past the first header.
        if b.len() >= 4 && next() % 2 == 0 {
            let len = b.len() as u32;
            b[..4].copy_from_slice(&len.to_ne_bytes());
        }
        walk(&b);
    }
}
