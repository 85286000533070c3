//! Container id rules, checked before anything touches the disk.

use crate::error::Error;

/// Longest id we accept; a directory name must stay well under NAME_MAX.
const MAX_ID_LEN: usize = 1024;

/// Ids are `[A-Za-z0-9][A-Za-z0-9_.+-]*`, so they can never name a path outside the root.
pub fn validate_id(id: &str) -> Result<(), Error> {
    let bad = |reason: &str| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason: reason.to_string(),
        })
    };
    let Some(first) = id.chars().next() else {
        return bad("empty");
    };
    if id.len() > MAX_ID_LEN {
        return bad("longer than 1024 bytes");
    }
    if !first.is_ascii_alphanumeric() {
        return bad("must start with a letter or digit");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.+-".contains(*c)))
    {
        return bad(&format!("character {c:?} is not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_id;

    #[test]
    fn accepts_runc_style_ids() {
        for id in ["a", "abc-123", "x.y_z+w", "0", "A9"] {
            assert!(validate_id(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_paths_and_odd_characters() {
        for id in ["", "..", ".", "a/b", "/etc", "-x", "a b", "a\0b", "é", "_x"] {
            assert!(validate_id(id).is_err(), "{id:?}");
        }
        assert!(validate_id(&"a".repeat(1025)).is_err());
    }
}
