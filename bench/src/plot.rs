//! Hand-written SVG plots: a log-scale line chart in small multiples, with
//! min–max whiskers. About 200 lines, no dependency, and the output is
//! plain text that diffs well in the README.

use forge_cli::human;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::figures::{LatencyFigure, LatencyKind, ReadMode, SweepFigure, System};
use crate::harness::Spread;
use crate::report::Report;

/// One line: a point per x category it has a value for.
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub dash: Option<&'static str>,
    pub points: Vec<(usize, Spread)>,
}

pub struct Panel {
    pub title: String,
    pub x_labels: Vec<String>,
    pub series: Vec<Series>,
    /// A horizontal reference line (label, value).
    pub reference: Option<(String, f64)>,
    /// Vertical marks between x categories: (position in category units,
    /// label, color).
    pub marks: Vec<(f64, String, &'static str)>,
    /// A y axis of its own (its title then names the unit) instead of the
    /// one all panels share.
    pub own_scale: bool,
}

const PW: f64 = 440.0;
const PH: f64 = 300.0;
const ML: f64 = 78.0;
const MR: f64 = 16.0;
const MT: f64 = 34.0;
const MB: f64 = 42.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn color(system: System) -> &'static str {
    match system {
        System::ForgeShm => "#d62728",
        System::ForgeShmSized => "#e377c2",
        System::ForgeHeap => "#ff7f0e",
        System::Rtrb => "#1f77b4",
        System::Iceoryx2 => "#2ca02c",
        System::Uds => "#9467bd",
        System::Pipe => "#8c564b",
        System::FloorPause => "#555555",
        System::FloorBusy => "#aaaaaa",
        System::Memcpy | System::MemcpyHot => "#000000",
    }
}

/// The log10 decades that span every value of `panels` (and their
/// reference lines).
fn decades(panels: &[Panel]) -> (f64, f64) {
    let values = panels.iter().flat_map(|p| {
        p.series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(|(_, v)| [v.min, v.max, v.median]))
            .chain(p.reference.iter().map(|r| r.1))
    });
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        lo = 1.0;
        hi = 10.0;
    }
    (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    )
}

/// Renders panels in a grid with a shared log y axis (unless a panel has
/// its own) and one legend.
pub fn render(
    title: &str,
    y_title: &str,
    fmt: fn(f64) -> String,
    panels: &[Panel],
    cols: usize,
) -> String {
    let shared = decades(panels);
    let rows = panels.len().div_ceil(cols.max(1));
    let mut legend: BTreeMap<String, (&'static str, Option<&'static str>)> = BTreeMap::new();
    for p in panels {
        for s in &p.series {
            legend.entry(s.label.clone()).or_insert((s.color, s.dash));
        }
    }
    let legend_cols = 3usize;
    let legend_rows = legend.len().div_ceil(legend_cols);
    let width = PW * cols as f64;
    let height = 40.0 + PH * rows as f64 + 20.0 + 20.0 * legend_rows as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        width / 2.0,
        esc(title)
    );
    for (i, p) in panels.iter().enumerate() {
        let ox = PW * (i % cols) as f64;
        let oy = 40.0 + PH * (i / cols) as f64;
        let (x0, x1, y0, y1) = (ox + ML, ox + PW - MR, oy + MT, oy + PH - MB);
        let (dlo, dhi) = if p.own_scale {
            decades(std::slice::from_ref(p))
        } else {
            shared
        };
        let y_of = |v: f64| y1 - (v.max(1e-9).log10() - dlo) / (dhi - dlo) * (y1 - y0);
        let n = p.x_labels.len().max(1);
        let x_of = |k: usize| x0 + (k as f64 + 0.5) * (x1 - x0) / n as f64;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
            (x0 + x1) / 2.0,
            oy + 20.0,
            esc(&p.title)
        );
        // Grid and y labels: each decade, with 2 and 5 when few decades.
        let mut d = dlo;
        while d <= dhi {
            for m in [1.0, 2.0, 5.0] {
                let v = m * 10f64.powf(d);
                if v.log10() > dhi + 1e-9 || (m != 1.0 && dhi - dlo > 4.0) {
                    continue;
                }
                let y = y_of(v);
                let (stroke, w) = if m == 1.0 {
                    ("#cccccc", 1.0)
                } else {
                    ("#eeeeee", 0.8)
                };
                let _ = writeln!(
                    s,
                    r#"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="{stroke}" stroke-width="{w}"/>"#
                );
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
                    x0 - 6.0,
                    y + 4.0,
                    esc(&fmt(v))
                );
            }
            d += 1.0;
        }
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{y0}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
            x1 - x0,
            y1 - y0
        );
        for (k, l) in p.x_labels.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x_of(k),
                y1 + 16.0,
                esc(l)
            );
        }
        if i % cols == 0 && !p.own_scale {
            let _ = writeln!(
                s,
                r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#,
                ox + 14.0,
                (y0 + y1) / 2.0,
                esc(y_title)
            );
        }
        for (j, (at, label, c)) in p.marks.iter().enumerate() {
            let x = x0 + (at + 0.5) * (x1 - x0) / n as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1}" stroke="{c}" stroke-width="1" stroke-dasharray="3 3"/>"#
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" fill="{c}">{}</text>"#,
                x + 3.0,
                y0 + 12.0 + 12.0 * j as f64,
                esc(label)
            );
        }
        if let Some((label, v)) = &p.reference {
            let y = y_of(*v);
            let _ = writeln!(
                s,
                r#"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="black" stroke-width="1.5" stroke-dasharray="8 4"/>"#
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" font-size="11">{}: {}</text>"#,
                x0 + 6.0,
                y - 5.0,
                esc(label),
                esc(&fmt(*v))
            );
        }
        for series in &p.series {
            let dash = series
                .dash
                .map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default();
            let pts: Vec<String> = series
                .points
                .iter()
                .filter(|(_, v)| v.median.is_finite() && v.median > 0.0)
                .map(|(k, v)| format!("{:.1},{:.1}", x_of(*k), y_of(v.median)))
                .collect();
            if pts.len() > 1 {
                let _ = writeln!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
                    pts.join(" "),
                    series.color
                );
            }
            for (k, v) in &series.points {
                if !(v.median.is_finite() && v.median > 0.0) {
                    continue;
                }
                let x = x_of(*k);
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{}" stroke-width="1"/>"#,
                    y_of(v.min),
                    y_of(v.max),
                    series.color
                );
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x:.1}" cy="{:.1}" r="3" fill="{}"><title>{}: {}</title></circle>"#,
                    y_of(v.median),
                    series.color,
                    esc(&series.label),
                    esc(&fmt(v.median))
                );
            }
        }
    }
    let ly = 40.0 + PH * rows as f64 + 14.0;
    for (i, (label, (c, dash))) in legend.iter().enumerate() {
        let x = 20.0 + (i % legend_cols) as f64 * (width - 40.0) / legend_cols as f64;
        let y = ly + 20.0 * (i / legend_cols) as f64;
        let dash = dash
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{c}" stroke-width="2.5"{dash}/>"#,
            x + 26.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            x + 32.0,
            y + 4.0,
            esc(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Round-trip percentiles, one panel per payload, a line per system; the
/// floor (payload-independent) and Forge's one-way latency in every panel.
pub fn latency(report: &Report, payloads: &[usize]) -> String {
    let pct = ["p50", "p90", "p99", "p99.9", "p99.99", "max"];
    let points = |f: &LatencyFigure| {
        let s = &f.summary;
        [s.p50, s.p90, s.p99, s.p999, s.p9999, s.max]
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
    };
    let lat = &report.results.latency;
    let panels = payloads
        .iter()
        .map(|&p| {
            let mut series = Vec::new();
            for f in lat {
                let floor = matches!(f.system, System::FloorBusy | System::FloorPause);
                if f.kind != LatencyKind::RoundTrip || (!floor && f.payload != p) {
                    continue;
                }
                // Only the rings have both read modes; the kernel always copies.
                let copy = f.read == Some(ReadMode::Copy)
                    && matches!(
                        f.system,
                        System::ForgeShm | System::ForgeHeap | System::Rtrb
                    );
                series.push(Series {
                    label: format!(
                        "{} RTT{}",
                        f.system.short(),
                        if copy { ", copy" } else { "" }
                    ),
                    color: color(f.system),
                    dash: if floor {
                        Some("2 3")
                    } else if copy {
                        Some("6 3")
                    } else {
                        None
                    },
                    points: points(f),
                });
            }
            for f in lat.iter().filter(|f| {
                f.kind == LatencyKind::OneWay && f.payload == p && f.read == Some(ReadMode::InPlace)
            }) {
                series.push(Series {
                    label: format!("{} one-way (paced)", f.system.short()),
                    color: "#e377c2",
                    dash: None,
                    points: points(f),
                });
            }
            Panel {
                title: format!("{} payload", human::bytes(p as u64)),
                x_labels: pct.iter().map(|s| s.to_string()).collect(),
                series,
                reference: None,
                marks: Vec::new(),
                own_scale: false,
            }
        })
        .collect::<Vec<_>>();
    render(
        "Latency percentiles by payload (median of repeats, whiskers min–max)",
        "latency",
        crate::report::fmt_ns,
        &panels,
        2,
    )
}

/// Throughput by payload: frames/s and bytes/s, memcpy as the ceiling.
pub fn throughput(report: &Report, payloads: &[usize]) -> String {
    let figures = &report.results.throughput;
    let mut keys: Vec<(System, Option<ReadMode>, Option<bool>)> = Vec::new();
    for f in figures
        .iter()
        .filter(|f| !matches!(f.system, System::Memcpy | System::MemcpyHot))
    {
        let k = (f.system, f.read, f.batched);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let label = |(sys, read, batched): (System, Option<ReadMode>, Option<bool>)| {
        let mut l = sys.short().to_owned();
        let both_modes = matches!(sys, System::ForgeShm | System::ForgeHeap | System::Rtrb);
        if let (Some(r), true) = (read, both_modes) {
            l.push_str(&format!(", {}", r.label()));
        }
        if batched == Some(true) {
            l.push_str(", batched");
        }
        l
    };
    let series_of = |bytes: bool| -> Vec<Series> {
        keys.iter()
            .map(|&k| Series {
                label: label(k),
                color: color(k.0),
                dash: match (k.1, k.2) {
                    (Some(ReadMode::Copy), _)
                        if matches!(k.0, System::ForgeShm | System::ForgeHeap | System::Rtrb) =>
                    {
                        Some("6 3")
                    }
                    (_, Some(true)) => Some("2 2"),
                    _ => None,
                },
                points: payloads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &p)| {
                        figures
                            .iter()
                            .find(|f| (f.system, f.read, f.batched) == k && f.payload == p)
                            .map(|f| (i, if bytes { f.bytes_per_s } else { f.frames_per_s }))
                    })
                    .collect(),
            })
            .collect()
    };
    let memcpy = figures
        .iter()
        .find(|f| f.system == System::Memcpy)
        .map(|f| {
            (
                "memcpy, one core, ring-sized".to_owned(),
                f.bytes_per_s.median,
            )
        });
    let x_labels: Vec<String> = payloads.iter().map(|&p| human::bytes(p as u64)).collect();
    let panels = [
        Panel {
            title: "frames per second".into(),
            x_labels: x_labels.clone(),
            series: series_of(false),
            reference: None,
            marks: Vec::new(),
            own_scale: false,
        },
        Panel {
            title: "bytes per second".into(),
            x_labels,
            series: series_of(true),
            reference: memcpy,
            marks: Vec::new(),
            own_scale: false,
        },
    ];
    render(
        "Throughput by payload (median of repeats, whiskers min–max)",
        "per second",
        human::si,
        &panels,
        2,
    )
}

/// The ring-size sweep: Forge's throughput and round trip by slot count, a
/// line per payload, with a mark where each payload's lap leaves a cache.
pub fn slots(report: &Report) -> String {
    let sweep = &report.results.sweep;
    let mut counts: Vec<u32> = sweep.iter().map(|f| f.slots).collect();
    counts.sort_unstable();
    counts.dedup();
    let mut payloads: Vec<usize> = sweep.iter().map(|f| f.payload).collect();
    payloads.sort_unstable();
    payloads.dedup();
    const COLORS: [&str; 3] = ["#d62728", "#1f77b4", "#2ca02c"];
    let color_of = |i: usize| COLORS[i % COLORS.len()];
    let series = |value: &dyn Fn(&SweepFigure) -> Option<Spread>| {
        payloads
            .iter()
            .enumerate()
            .map(|(i, &p)| Series {
                label: format!("Forge shm, {}", human::bytes(p as u64)),
                color: color_of(i),
                dash: None,
                points: counts
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &n)| {
                        sweep
                            .iter()
                            .find(|f| f.slots == n && f.payload == p)
                            .and_then(value)
                            .map(|v| (k, v))
                    })
                    .collect(),
            })
            .collect::<Vec<_>>()
    };
    let mut marks = Vec::new();
    for (i, &p) in payloads.iter().enumerate() {
        for cache in report.machine.caches.iter().filter(|c| c.level >= 2) {
            // The first ring size whose lap no longer fits this cache.
            let first_out = counts.iter().position(|&n| {
                sweep
                    .iter()
                    .any(|f| f.slots == n && f.payload == p && f.lap_bytes > cache.bytes)
            });
            if let Some(k) = first_out.filter(|&k| k > 0) {
                marks.push((
                    k as f64 - 0.5,
                    format!("{} B leaves {}", p, cache.name()),
                    color_of(i),
                ));
            }
        }
    }
    let x_labels: Vec<String> = counts.iter().map(u32::to_string).collect();
    let panels = [
        Panel {
            title: "frames per second (while both ran)".into(),
            x_labels: x_labels.clone(),
            series: series(&|f| f.frames_per_s),
            reference: None,
            marks: marks.clone(),
            own_scale: true,
        },
        Panel {
            title: "round trip p50, ns".into(),
            x_labels,
            series: series(&|f| f.rtt.map(|r| r.p50)),
            reference: None,
            marks,
            own_scale: true,
        },
    ];
    render(
        "Forge by ring size (slots), in place, per-frame publication",
        "",
        human::si,
        &panels,
        2,
    )
}
