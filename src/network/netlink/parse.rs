//! Reading a received datagram: its netlink messages, the attributes of one message, and what a
//! control message (ACK, error, DONE) says. Every length comes from the other end and is checked
//! before use: bad input is an `InvalidData` error, never a panic. The iterators stop after
//! their first error.

use std::io;

use super::{NLA_TYPE_MASK, NLMSG_DONE, NLMSG_ERROR, NLMSG_MIN_TYPE};

const HEADER_LEN: usize = 16;
const ATTR_HEADER_LEN: usize = 4;

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {what}"))
}

fn align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// One message of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    /// What follows the `nlmsghdr`, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

/// The messages of a received datagram, in order.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = io::Result<Msg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let len = match u32_at(rest, 0) {
            Some(len) => len as usize,
            None => return Some(Err(bad("truncated message header"))),
        };
        if len < HEADER_LEN || len > rest.len() {
            return Some(Err(bad(&format!(
                "message length {len} with {} bytes left",
                rest.len()
            ))));
        }
        let (kind, flags, seq) = match (u16_at(rest, 4), u16_at(rest, 6), u32_at(rest, 8)) {
            (Some(k), Some(f), Some(s)) => (k, f, s),
            _ => return Some(Err(bad("truncated message header"))),
        };
        // The last message's padding may be missing; nothing follows it then.
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok(Msg {
            kind,
            flags,
            seq,
            payload: &rest[HEADER_LEN..len],
        }))
    }
}

/// The attributes in `buf` as (type without the `NLA_F_*` flag bits, value).
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = io::Result<(u16, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let (len, kind) = match (u16_at(rest, 0), u16_at(rest, 2)) {
            (Some(l), Some(k)) => (usize::from(l), k),
            _ => return Some(Err(bad("truncated attribute header"))),
        };
        if len < ATTR_HEADER_LEN || len > rest.len() {
            return Some(Err(bad(&format!(
                "attribute length {len} with {} bytes left",
                rest.len()
            ))));
        }
        self.rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Ok((kind & NLA_TYPE_MASK, &rest[ATTR_HEADER_LEN..len])))
    }
}

/// Split a payload into its fixed header of `len` bytes and the attributes after it (which
/// start at the next 4-byte boundary).
pub fn split_fixed(payload: &[u8], len: usize) -> io::Result<(&[u8], &[u8])> {
    let fixed = payload.get(..len).ok_or_else(|| {
        bad(&format!(
            "{} bytes, shorter than a {len}-byte header",
            payload.len()
        ))
    })?;
    Ok((fixed, payload.get(align(len)..).unwrap_or(&[])))
}

pub fn u32_value(value: &[u8]) -> io::Result<u32> {
    value.try_into().map(u32::from_ne_bytes).map_err(|_| {
        bad(&format!(
            "{}-byte value where a u32 was expected",
            value.len()
        ))
    })
}

/// A string attribute, up to its NUL (the kernel's end with one; a missing one is tolerated).
pub fn str_value(value: &[u8]) -> io::Result<&str> {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    std::str::from_utf8(&value[..end]).map_err(|_| bad("string attribute is not UTF-8"))
}

/// What a message means to the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An `RTM_*` message: data for the caller.
    Answer,
    /// `NLMSG_ERROR` with code 0: the request succeeded.
    Ack,
    /// `NLMSG_DONE`: the end of a multipart answer.
    Done,
    /// `NLMSG_NOOP`, `NLMSG_OVERRUN` or another control type: nothing to act on.
    Other,
}

/// Classify `m`; an `NLMSG_ERROR` with a negative code is the kernel's refusal, returned as the
/// `io::Error` of that errno so callers can match it (`EEXIST`, `ENODEV`).
pub fn outcome(m: &Msg<'_>) -> io::Result<Outcome> {
    match m.kind {
        NLMSG_ERROR => {
            // struct nlmsgerr: int error, then the request's header (and maybe more).
            let code = u32_at(m.payload, 0).ok_or_else(|| bad("truncated error message"))? as i32;
            match code {
                0 => Ok(Outcome::Ack),
                c if c < 0 => match c.checked_neg() {
                    Some(errno) => Err(io::Error::from_raw_os_error(errno)),
                    None => Err(bad(&format!("error code {c}"))),
                },
                c => Err(bad(&format!("positive error code {c}"))),
            }
        }
        NLMSG_DONE => Ok(Outcome::Done),
        k if k >= NLMSG_MIN_TYPE => Ok(Outcome::Answer),
        _ => Ok(Outcome::Other),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
