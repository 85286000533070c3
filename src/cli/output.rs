//! Output shapes callers parse: `state` pretty JSON (two-space indent, as runc), `list` as a
//! table, JSON array or ids.

use crate::container::ContainerView;

/// `state`: pretty JSON like runc's (`"status": "running"`).
pub fn state_json(view: &ContainerView) -> String {
    serde_json::to_string_pretty(view).unwrap_or_default()
}

/// `list -f json`: a JSON array (never null, so any parser gets a list).
pub fn list_json(views: &[ContainerView]) -> String {
    serde_json::to_string(views).unwrap_or_else(|_| "[]".into())
}

/// `list`: runc's columns, padded as its tabwriter does (each column as wide as its widest
/// cell plus 3, at least 12).
pub fn list_table(views: &[ContainerView]) -> String {
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let rows: Vec<[String; 6]> = views
        .iter()
        .map(|v| {
            [
                v.id.clone(),
                v.pid.to_string(),
                v.status.clone(),
                v.bundle.display().to_string(),
                v.created.clone(),
                v.owner.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let width = (widths[i] + 3).max(12);
                out.push_str(&format!("{cell:<width$}"));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: &str) -> ContainerView {
        ContainerView {
            oci_version: "1.2.0".into(),
            id: id.into(),
            pid: 7,
            status: "running".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00.000000000Z".into(),
            owner: "".into(),
            annotations: Default::default(),
        }
    }

    #[test]
    fn state_is_pretty_with_runc_fields() {
        let text = state_json(&view("c"));
        assert!(text.contains("\n  \"status\": \"running\""), "{text}");
        for key in [
            "ociVersion",
            "id",
            "pid",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(text.contains(&format!("\"{key}\"")), "{key}");
        }
        assert!(
            !text.contains("annotations"),
            "empty annotations are omitted"
        );
    }

    #[test]
    fn list_shapes() {
        assert_eq!(list_json(&[]), "[]");
        let table = list_table(&[view("abc")]);
        let mut lines = table.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("ID          PID         STATUS"));
        assert!(lines
            .next()
            .unwrap()
            .starts_with("abc         7           running"));
    }
}
