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

/// `ps` table: run `ps` with `args` (default `-ef`) and keep the header and the lines whose
/// PID column is one of `pids`, as runc does.
pub fn ps_table(pids: &[i32], args: &[String]) -> anyhow::Result<String> {
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| anyhow::anyhow!("run ps: {e}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow::anyhow!("ps output has no PID column"))?;
    let mut result = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            result.push_str(line);
            result.push('\n');
        }
    }
    Ok(result)
}

/// `5s`, `500ms`, `1m`, `2h`, or plain seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => anyhow::bail!("invalid duration {s:?}"),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        anyhow::bail!("invalid duration {s:?}: must be positive");
    }
    Ok(std::time::Duration::from_secs_f64(secs))
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
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap().as_millis(), 5000);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2").unwrap().as_millis(), 2000);
        for bad in ["", "0s", "x", "5q", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ps_table_keeps_header_and_own_pids() {
        let me = std::process::id() as i32;
        let t = ps_table(&[me], &[]).unwrap();
        let mut lines = t.lines();
        assert!(lines.next().unwrap().contains("PID"));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 1, "{t}");
        assert!(rows[0].split_whitespace().any(|f| f == me.to_string()));
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
