//! Which JSON field a parse error is about.
//!
//! serde reports a wrong type or value ("unknown variant `foo`") with a line and column but not
//! the field. The JSON up to that point is well formed (serde read it), so a light scan of the
//! text up to the error position recovers the path, e.g. `linux.namespaces[2].type`. The scan
//! is iterative (no recursion, whatever the nesting) and only reads; on anything surprising it
//! gives up and the error is reported without a field.

/// Longest path worth showing; deeper ones (e.g. `[0][0][0]...`) say nothing useful.
const MAX_PATH_LEN: usize = 256;

/// One level of nesting at the scan position.
enum Frame {
    /// Inside an object; `key` is the member being read (`None` right after `{` or `,`).
    Object { key: Option<String> },
    /// Inside an array, at element `index`.
    Array { index: usize },
}

/// JSON path of the field being read at serde_json's `(line, column)`: `line` counts from 1,
/// `column` is the number of bytes consumed on that line. `None` if the position is outside
/// the text or the path is empty or too long.
pub(super) fn json_path_at(bytes: &[u8], line: usize, column: usize) -> Option<String> {
    let end = offset_of(bytes, line, column)?;
    let text = bytes.get(..end)?;
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'{' => stack.push(Frame::Object { key: None }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { key }) => *key = None,
                None => {}
            },
            b'"' => {
                let close = string_end(text, i);
                // The first string after `{` or `,` is a member name; later ones are values.
                if let Some(Frame::Object { key: key @ None }) = stack.last_mut() {
                    *key = Some(decode_string(text.get(i..=close.min(text.len() - 1))?));
                }
                i = close + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let path = render(&stack);
    (!path.is_empty() && path.len() <= MAX_PATH_LEN).then_some(path)
}

/// Byte offset of `(line, column)` in `bytes`, clamped to its length.
fn offset_of(bytes: &[u8], line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        let rest = bytes.get(start..)?;
        start += rest.iter().position(|&b| b == b'\n')? + 1;
    }
    (line >= 1).then(|| start.saturating_add(column).min(bytes.len()))
}

/// Index of the quote closing the string opened at `open` (or the last index if unterminated).
fn string_end(text: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    text.len().saturating_sub(1).max(open)
}

/// A quoted JSON string's value; a cut-off or odd one is shown raw.
fn decode_string(quoted: &[u8]) -> String {
    serde_json::from_slice::<String>(quoted).unwrap_or_else(|_| {
        let inner = quoted.strip_prefix(b"\"").unwrap_or(quoted);
        let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
        String::from_utf8_lossy(inner).into_owned()
    })
}

/// `a.b[2].c`, with keys that are not plain words quoted: `linux.sysctl["net.ipv4.ip_forward"]`.
fn render(stack: &[Frame]) -> String {
    let mut out = String::new();
    for frame in stack {
        match frame {
            Frame::Object { key: Some(key) } if is_word(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Frame::Object { key: Some(key) } => {
                out.push('[');
                out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                out.push(']');
            }
            Frame::Object { key: None } => {}
            Frame::Array { index } => out.push_str(&format!("[{index}]")),
        }
        if out.len() > MAX_PATH_LEN {
            break;
        }
    }
    out
}

fn is_word(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_at_marker(text: &str) -> Option<String> {
        // `|` marks the error position; it is removed before scanning.
        let at = text.find('|').unwrap();
        let clean = text.replace('|', "");
        let before = &clean[..at];
        let line = before.matches('\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |n| n + 1);
        json_path_at(clean.as_bytes(), line, column)
    }

    #[test]
    fn nested_object_and_array() {
        let text = "{\"linux\": {\"namespaces\": [{\"type\": \"pid\"},\n {\"type\": \"foo\"|}]}}";
        assert_eq!(path_at_marker(text).unwrap(), "linux.namespaces[1].type");
    }

    #[test]
    fn value_after_key() {
        assert_eq!(path_at_marker("{\"process\": 5|}").unwrap(), "process");
    }

    #[test]
    fn closed_object_reports_its_parent_member() {
        let text = "{\"a\": 1, \"process\": {\"args\": [\"sh\", \"x\"]}|}";
        assert_eq!(path_at_marker(text).unwrap(), "process");
    }

    #[test]
    fn strings_with_brackets_and_escapes_do_not_confuse() {
        let text = r#"{"env": ["A=[{", "B=\"}]\\"], "odd key.x": {"v": tru|e}}"#;
        assert_eq!(path_at_marker(text).unwrap(), "[\"odd key.x\"].v");
    }

    #[test]
    fn top_level_has_no_path() {
        assert_eq!(path_at_marker("5|"), None);
        assert_eq!(path_at_marker("{|}"), None);
    }

    #[test]
    fn out_of_range_positions_are_safe() {
        assert_eq!(json_path_at(b"{\"a\": 1}", 9, 9), None);
        assert_eq!(json_path_at(b"{\"a\": 1}", 0, 0), None);
        assert_eq!(json_path_at(b"", 1, 5), None);
        assert_eq!(json_path_at(b"{\"a", 1, 3), Some("a".into()));
    }

    #[test]
    fn deep_paths_are_dropped() {
        let text = format!("{}5", "[".repeat(10_000));
        assert_eq!(json_path_at(text.as_bytes(), 1, text.len()), None);
    }
}
