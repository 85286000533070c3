//! Just enough route netlink for [`super::rtnl`]: build a request ([`Message`]), send it and read
//! the replies up to its ACK ([`Socket`]), walk the messages and attributes of a reply
//! ([`parse`]). Written for sangja instead of the netlink-packet-* crates, which decode every
//! rtnetlink message and attribute there is (~600 KB of the static binary) where we send seven
//! kinds of request and read three attributes. Wire format: netlink(7), rtnetlink(7).

mod build;
pub mod parse;
mod socket;
#[cfg(test)]
pub mod test_encode;

pub use build::Message;
pub use socket::Socket;

// libc declares these as c_int; the wire fields are u16 (nlmsg_flags, nlmsg_type, nla_type).
pub const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
pub const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
pub const NLM_F_EXCL: u16 = libc::NLM_F_EXCL as u16;
pub const NLM_F_CREATE: u16 = libc::NLM_F_CREATE as u16;
pub const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
pub const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
pub const NLMSG_MIN_TYPE: u16 = libc::NLMSG_MIN_TYPE as u16;
/// Strips `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` from an attribute type.
pub const NLA_TYPE_MASK: u16 = libc::NLA_TYPE_MASK as u16;

/// `VETH_INFO_PEER` from `linux/veth.h` (libc lacks it): inside `IFLA_INFO_DATA` of a veth, the
/// peer as an `ifinfomsg` followed by its own `IFLA_*` attributes.
pub const VETH_INFO_PEER: u16 = 1;
