//! Netlink attributes encoded by hand for the unit tests of the parser and of `rtnl`: written
//! apart from [`super::Message`], so that a mistake in the builder cannot hide the same one in
//! the parser.

/// One attribute: length, type, value, padded to 4 bytes.
pub fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(4 + value.len() as u16).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(value);
    b.resize((b.len() + 3) & !3, 0);
    b
}
