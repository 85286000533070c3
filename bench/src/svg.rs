//! A small SVG strip-and-box chart of latency distributions, log-scaled, drawn by hand.

use std::fmt::Write;

use crate::stats;

pub struct Row {
    pub label: String,
    pub color: &'static str,
    pub samples: Vec<f64>,
    /// Printed right of the plot (e.g. "n/a: why"), when there are no samples.
    pub missing: Option<String>,
    /// Appended to the median label, e.g. ", 13 hung".
    pub extra: String,
}

pub struct Group {
    pub title: String,
    pub rows: Vec<Row>,
}

pub struct Panel {
    pub title: String,
    pub subtitle: String,
    pub groups: Vec<Group>,
}

const W: f64 = 1060.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 880.0;
const ROW_H: f64 = 15.0;
const GROUP_H: f64 = 20.0;
const PANEL_TOP: f64 = 52.0;
const AXIS_H: f64 = 34.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.3}")
    } else if x < 10.0 {
        format!("{x:.2}")
    } else if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// Deterministic jitter in [-1, 1] from an index (no RNG crate needed).
fn jitter(i: usize, salt: usize) -> f64 {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (salt as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x % 10_000) as f64 / 5_000.0 - 1.0
}

pub fn chart(title: &str, subtitle: &str, panels: &[Panel]) -> String {
    let mut body = String::new();
    let mut y = 56.0;
    for (pi, p) in panels.iter().enumerate() {
        let all: Vec<f64> = p
            .groups
            .iter()
            .flat_map(|g| g.rows.iter().flat_map(|r| r.samples.iter().copied()))
            .filter(|x| *x > 0.0 && x.is_finite())
            .collect();
        let (lo, hi) = if all.is_empty() {
            (0.1, 1000.0)
        } else {
            let mn = all.iter().copied().fold(f64::INFINITY, f64::min);
            let mx = all.iter().copied().fold(0.0, f64::max);
            (
                10f64.powf(mn.log10().floor()),
                10f64.powf(mx.log10().ceil().max(mn.log10().floor() + 1.0)),
            )
        };
        let xs = |v: f64| {
            LEFT + (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()) * (RIGHT - LEFT)
        };
        let rows: usize = p.groups.iter().map(|g| g.rows.len()).sum();
        let height =
            PANEL_TOP + p.groups.len() as f64 * (GROUP_H + 5.0) + rows as f64 * ROW_H + AXIS_H;
        let _ = writeln!(
            body,
            r##"<text x="10" y="{:.1}" font-size="15" font-weight="bold">{}</text>"##,
            y + 18.0,
            esc(&p.title)
        );
        let _ = writeln!(
            body,
            r##"<text x="10" y="{:.1}" font-size="10.5" fill="#444">{}</text>"##,
            y + 33.0,
            esc(&p.subtitle)
        );
        let plot_top = y + PANEL_TOP - 6.0;
        let plot_bottom = y + height - AXIS_H;
        // Grid and axis: 1-2-5 ticks per decade.
        let mut d = lo;
        while d <= hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let v = d * m;
                if v > hi * 1.0001 {
                    break;
                }
                let x = xs(v);
                let major = m == 1.0;
                let _ = writeln!(
                    body,
                    r##"<line x1="{x:.1}" y1="{plot_top:.1}" x2="{x:.1}" y2="{plot_bottom:.1}" stroke="{}" stroke-width="1"/>"##,
                    if major { "#ccc" } else { "#eee" }
                );
                let _ = writeln!(
                    body,
                    r##"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                    plot_bottom + 13.0,
                    fmt_ms(v)
                );
            }
            d *= 10.0;
        }
        let _ = writeln!(
            body,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#333">milliseconds (log scale); box = quartiles, bar = median, whiskers = min..max, dots = every run</text>"##,
            (LEFT + RIGHT) / 2.0,
            plot_bottom + 27.0
        );
        let _ = writeln!(
            body,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#555">median</text>"##,
            RIGHT + 10.0,
            y + PANEL_TOP - 10.0
        );
        let mut ry = y + PANEL_TOP;
        for (gi, g) in p.groups.iter().enumerate() {
            if gi % 2 == 1 {
                let _ = writeln!(
                    body,
                    r##"<rect x="4" y="{:.1}" width="{:.1}" height="{:.1}" fill="#f6f6f6"/>"##,
                    ry - 4.0,
                    W - 8.0,
                    GROUP_H + g.rows.len() as f64 * ROW_H + 2.0
                );
            }
            let _ = writeln!(
                body,
                r##"<text x="10" y="{:.1}" font-size="12" font-weight="bold">{}</text>"##,
                ry + 11.0,
                esc(&g.title)
            );
            ry += GROUP_H;
            for (ri, r) in g.rows.iter().enumerate() {
                let cy = ry + ROW_H / 2.0;
                let _ = writeln!(
                    body,
                    r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{}">{}</text>"##,
                    LEFT - 8.0,
                    cy + 4.0,
                    r.color,
                    esc(&r.label)
                );
                if let Some(s) = stats::summary(&r.samples) {
                    let salt = pi * 1000 + gi * 37 + ri;
                    for (i, v) in r.samples.iter().enumerate() {
                        let _ = writeln!(
                            body,
                            r##"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{}" fill-opacity="0.45"/>"##,
                            xs(*v),
                            cy + jitter(i, salt) * 4.5,
                            r.color
                        );
                    }
                    let _ = writeln!(
                        body,
                        r##"<line x1="{:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="{}" stroke-width="1"/>"##,
                        xs(s.min),
                        xs(s.max),
                        r.color
                    );
                    let _ = writeln!(
                        body,
                        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="10" fill="{}" fill-opacity="0.15" stroke="{}" stroke-width="1"/>"##,
                        xs(s.q1),
                        cy - 5.0,
                        (xs(s.q3) - xs(s.q1)).max(1.0),
                        r.color,
                        r.color
                    );
                    let _ = writeln!(
                        body,
                        r##"<line x1="{m:.1}" y1="{:.1}" x2="{m:.1}" y2="{:.1}" stroke="{}" stroke-width="2.5"/>"##,
                        cy - 6.5,
                        cy + 6.5,
                        r.color,
                        m = xs(s.median)
                    );
                    let _ = writeln!(
                        body,
                        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="{}">{} ms (n={}{})</text>"##,
                        RIGHT + 10.0,
                        cy + 4.0,
                        r.color,
                        fmt_ms(s.median),
                        s.n,
                        esc(&r.extra)
                    );
                } else {
                    let why = r.missing.clone().unwrap_or_else(|| "no samples".into());
                    let why: String = why.chars().take(110).collect();
                    let _ = writeln!(
                        body,
                        r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#999" font-style="italic">{}</text>"##,
                        LEFT + 6.0,
                        cy + 4.0,
                        esc(&why)
                    );
                }
                ry += ROW_H;
            }
            ry += 5.0;
        }
        y += height + 16.0;
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h:.0}" viewBox="0 0 {W} {h:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="17" font-weight="bold">{}</text>
<text x="10" y="42" font-size="11" fill="#444">{}</text>
{body}</svg>
"##,
        esc(title),
        esc(subtitle),
        h = y + 4.0
    )
}
