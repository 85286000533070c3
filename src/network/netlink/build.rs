//! Encoding one request: the 16-byte `nlmsghdr`, the family's fixed header, then attributes
//! (`rtattr`: u16 length, u16 type, value), everything padded to 4 bytes, in host byte order.

use std::io;

use super::{NLM_F_ACK, NLM_F_REQUEST};

/// `nlmsghdr` and `rtattr` sizes; both already multiples of 4.
const HEADER_LEN: usize = 16;
const ATTR_HEADER_LEN: usize = 4;

/// A request being built. Every request asks for an ACK, which [`super::Socket::request`] waits
/// for: it is how a request that has no other answer reports success.
pub struct Message {
    buf: Vec<u8>,
    /// An attribute outgrew its u16 length field; [`Message::finish`] refuses the message.
    too_long: bool,
}

impl Message {
    /// A request of type `kind` (`RTM_*`) with `NLM_F_REQUEST | NLM_F_ACK | flags`.
    pub fn new(kind: u16, flags: u16) -> Message {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[0; 4]); // nlmsg_len: set by finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | flags).to_ne_bytes());
        buf.extend_from_slice(&[0; 8]); // nlmsg_seq (set by finish); nlmsg_pid 0: the kernel's
        debug_assert_eq!(buf.len(), HEADER_LEN);
        Message {
            buf,
            too_long: false,
        }
    }

    /// Append raw bytes, padded: the fixed header (`ifinfomsg`, ...) after the `nlmsghdr` or at
    /// the start of an attribute that carries one (`VETH_INFO_PEER`).
    pub fn fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let start = self.open();
        self.buf.extend_from_slice(value);
        self.close(start, kind);
        self
    }

    pub fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// A NUL-terminated string, which the kernel's string attribute policies all accept.
    pub fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let start = self.open();
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
        self.close(start, kind);
        self
    }

    /// An attribute whose value is what `fill` appends. Its length, written afterwards, covers
    /// the padding of the last inner attribute, as the kernel's own nests do.
    pub fn nested(&mut self, kind: u16, fill: impl FnOnce(&mut Message)) -> &mut Self {
        let start = self.open();
        fill(self);
        self.close(start, kind);
        self
    }

    /// The bytes to send, with the total length and sequence number `seq` filled in.
    pub fn finish(&mut self, seq: u32) -> io::Result<&[u8]> {
        let len = u32::try_from(self.buf.len())
            .ok()
            .filter(|_| !self.too_long);
        let Some(len) = len else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "netlink attribute too long",
            ));
        };
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        Ok(&self.buf)
    }

    /// Start an attribute: a header to be filled in by `close`.
    fn open(&mut self) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; ATTR_HEADER_LEN]);
        start
    }

    /// Write the header of the attribute begun at `start` (its length excludes the padding that
    /// follows) and pad.
    fn close(&mut self, start: usize, kind: u16) {
        let len = u16::try_from(self.buf.len() - start).unwrap_or_else(|_| {
            self.too_long = true;
            0
        });
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self.buf[start + 2..start + 4].copy_from_slice(&kind.to_ne_bytes());
        self.pad();
    }

    fn pad(&mut self) {
        let padded = (self.buf.len() + 3) & !3;
        self.buf.resize(padded, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], off: usize) -> u16 {
        u16::from_ne_bytes([b[off], b[off + 1]])
    }

    fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
    }

    #[test]
    fn header_fixed_part_and_string_attribute_byte_for_byte() {
        let mut m = Message::new(18, 0x200);
        m.fixed(&[0xaa; 16]).attr_str(3, "lo");
        let b = m.finish(7).unwrap().to_vec();
        let mut want = Vec::new();
        want.extend_from_slice(&40u32.to_ne_bytes()); // 16 + 16 + 8
        want.extend_from_slice(&18u16.to_ne_bytes());
        want.extend_from_slice(&(0x200u16 | 1 | 4).to_ne_bytes()); // EXCL | REQUEST | ACK
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[0xaa; 16]);
        want.extend_from_slice(&7u16.to_ne_bytes()); // 4 + "lo\0", padding not counted
        want.extend_from_slice(&3u16.to_ne_bytes());
        want.extend_from_slice(b"lo\0\0");
        assert_eq!(b, want);
    }

    #[test]
    fn everything_is_padded_to_four_bytes() {
        let mut m = Message::new(16, 0);
        m.fixed(&[1; 5])
            .attr(1, &[2; 1])
            .attr(2, &[])
            .attr_u32(4, 9000);
        let b = m.finish(1).unwrap().to_vec();
        assert_eq!(b.len(), 16 + 8 + 8 + 4 + 8);
        assert_eq!(&b[16..24], &[1, 1, 1, 1, 1, 0, 0, 0]);
        assert_eq!((u16_at(&b, 24), u16_at(&b, 26)), (5, 1));
        assert_eq!(&b[28..32], &[2, 0, 0, 0]);
        assert_eq!((u16_at(&b, 32), u16_at(&b, 34)), (4, 2));
        assert_eq!((u16_at(&b, 36), u16_at(&b, 38)), (8, 4));
        assert_eq!(u32_at(&b, 40), 9000);
        assert_eq!(u32_at(&b, 0) as usize, b.len());
    }

    #[test]
    fn nested_lengths_cover_their_contents() {
        // LINKINFO { KIND "veth", DATA { PEER { 16-byte header, IFNAME "eth0" } } }
        let mut m = Message::new(16, 0);
        m.nested(18, |li| {
            li.attr_str(1, "veth").nested(2, |data| {
                data.nested(1, |peer| {
                    peer.fixed(&[0; 16]).attr_str(3, "eth0");
                });
            });
        });
        let b = m.finish(1).unwrap().to_vec();
        // kind: 4 + 5 -> 12 padded; peer: 4 + 16 + (4 + 5 -> 12) = 32; data: 4 + 32 = 36;
        // linkinfo: 4 + 12 + 36 = 52.
        assert_eq!(b.len(), 16 + 52);
        assert_eq!((u16_at(&b, 16), u16_at(&b, 18)), (52, 18));
        assert_eq!((u16_at(&b, 20), u16_at(&b, 22)), (9, 1));
        assert_eq!(&b[24..32], b"veth\0\0\0\0");
        assert_eq!((u16_at(&b, 32), u16_at(&b, 34)), (36, 2));
        assert_eq!((u16_at(&b, 36), u16_at(&b, 38)), (32, 1));
        assert_eq!(&b[40..56], &[0; 16]);
        assert_eq!((u16_at(&b, 56), u16_at(&b, 58)), (9, 3));
        assert_eq!(&b[60..68], b"eth0\0\0\0\0");
    }

    #[test]
    fn an_attribute_too_long_for_its_length_field_is_refused() {
        let mut m = Message::new(16, 0);
        m.attr(1, &vec![0; 70_000]);
        let e = m.finish(1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
