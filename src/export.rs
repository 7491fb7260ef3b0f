//! Exports: a rendered frame as SVG (colours kept, monospace) or plain text,
//! the decoded state as JSON or a text report, and the `s` key's bundle.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use forge_cli::output::{Dir, Output, OutputError};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use serde::Serialize;

mod host;
pub use host::{host_json, host_report, HostReport, HostRole, HostRow, HostUnreadable};

use crate::alarms::{Alarm, LogEntry};
use crate::app::App;
use crate::model::human;
use crate::model::{Link, Rates, Role, Sample, SelfInfo, Side, SlotView};

/// Cell width and height in SVG pixels, and the font size that fits them.
const CELL_W: f64 = 9.0;
const CELL_H: f64 = 18.0;
const FONT_PX: f64 = 15.0;
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

/// The buffer as lines of text, trailing spaces trimmed.
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn color(c: Color, default: &str) -> String {
    let named = match c {
        Color::Reset => return default.to_owned(),
        Color::Black => "#000000",
        Color::Red => "#cd3131",
        Color::Green => "#0dbc79",
        Color::Yellow => "#e5e510",
        Color::Blue => "#2472c8",
        Color::Magenta => "#bc3fbc",
        Color::Cyan => "#11a8cd",
        Color::Gray => "#e5e5e5",
        Color::DarkGray => "#767676",
        Color::LightRed => "#f14c4c",
        Color::LightGreen => "#23d18b",
        Color::LightYellow => "#f5f543",
        Color::LightBlue => "#3b8eea",
        Color::LightMagenta => "#d670d6",
        Color::LightCyan => "#29b8db",
        Color::White => "#ffffff",
        Color::Rgb(r, g, b) => return format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => return indexed(i),
    };
    named.to_owned()
}

/// The xterm 256-colour palette.
fn indexed(i: u8) -> String {
    const BASE: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match i {
        0..16 => color(BASE[usize::from(i)], DEFAULT_FG),
        16..232 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            format!(
                "#{:02x}{:02x}{:02x}",
                level(i / 36),
                level(i / 6 % 6),
                level(i % 6)
            )
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[derive(PartialEq, Eq, Clone)]
struct Ink {
    fg: String,
    bg: String,
    bold: bool,
    italic: bool,
    underline: bool,
    dim: bool,
}

fn ink(cell: &ratatui::buffer::Cell) -> Ink {
    let m = cell.modifier;
    let (mut fg, mut bg) = (color(cell.fg, DEFAULT_FG), color(cell.bg, DEFAULT_BG));
    if m.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    Ink {
        fg,
        bg,
        bold: m.contains(Modifier::BOLD),
        italic: m.contains(Modifier::ITALIC),
        underline: m.contains(Modifier::UNDERLINED),
        dim: m.contains(Modifier::DIM),
    }
}

/// The buffer as a standalone SVG: one background rectangle per run of
/// cells sharing a background, one `<text>` per run sharing a style, each
/// stretched to its exact cell width so columns line up in any monospace
/// font.
pub fn buffer_svg(buf: &Buffer) -> String {
    let area = buf.area;
    let (w, h) = (
        f64::from(area.width) * CELL_W,
        f64::from(area.height) * CELL_H,
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" xml:space="preserve" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    let _ = writeln!(
        out,
        "<style>text{{font-family:'DejaVu Sans Mono','Menlo','Consolas','Liberation Mono',monospace;font-size:{FONT_PX}px;white-space:pre}}</style>"
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#
    );
    for y in area.top()..area.bottom() {
        let row = f64::from(y - area.top());
        // Backgrounds.
        let mut x = area.left();
        while x < area.right() {
            let bg = ink(&buf[(x, y)]).bg;
            let start = x;
            while x < area.right() && ink(&buf[(x, y)]).bg == bg {
                x += 1;
            }
            if bg != DEFAULT_BG {
                let _ = writeln!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{CELL_H}" fill="{bg}"/>"#,
                    f64::from(start - area.left()) * CELL_W,
                    row * CELL_H,
                    f64::from(x - start) * CELL_W,
                );
            }
        }
        // Text.
        let mut x = area.left();
        while x < area.right() {
            let style = ink(&buf[(x, y)]);
            let start = x;
            let mut text = String::new();
            let mut cells = 0u16;
            while x < area.right() && ink(&buf[(x, y)]) == style {
                text.push_str(buf[(x, y)].symbol());
                cells += 1;
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut attrs = format!(r#" fill="{}""#, style.fg);
            if style.bold {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if style.italic {
                attrs.push_str(r#" font-style="italic""#);
            }
            if style.underline {
                attrs.push_str(r#" text-decoration="underline""#);
            }
            if style.dim {
                attrs.push_str(r#" opacity="0.6""#);
            }
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{:.1}" textLength="{}" lengthAdjust="spacingAndGlyphs"{attrs}>{}</text>"#,
                f64::from(start - area.left()) * CELL_W,
                row * CELL_H + CELL_H * 0.78,
                f64::from(cells) * CELL_W,
                escape(&text),
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// The decoded state, for `--once --format json` and bundles.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// `forge-top`.
    pub tool: &'static str,
    /// forge-top's version.
    pub version: &'static str,
    /// Segment name asked for.
    pub segment: &'a str,
    /// Attachment state.
    pub link: &'a Link,
    /// Why waiting or lost.
    pub reason: Option<&'a str>,
    /// When the sample was taken, UTC.
    pub taken_utc: String,
    /// `session_id` as hex.
    pub session_hex: Option<String>,
    /// Every header field, and the daemons.
    pub sample: Option<&'a Sample>,
    /// Rates over the sampling interval.
    pub rates: &'a Rates,
    /// Active alarms.
    pub alarms: &'a [Alarm],
    /// The event log, oldest first.
    pub events: Vec<&'a LogEntry>,
    /// The selected slot, decoded.
    pub selected_slot: Option<&'a SlotView>,
    /// The selected slot's bytes as hex.
    pub selected_slot_hex: Option<String>,
    /// The file `--file` opened, and where its cursor stands.
    pub offline: Option<&'a crate::model::OfflineView>,
    /// forge-top itself.
    pub forge_top: ToolInfo<'a>,
}

/// forge-top's own footprint.
#[derive(Debug, Serialize)]
pub struct ToolInfo<'a> {
    /// pid, core, RSS.
    #[serde(flatten)]
    pub me: &'a SelfInfo,
    /// CPU use over the last interval, percent of one core.
    pub cpu_percent: f64,
    /// Sampling period, ms.
    pub refresh_ms: u64,
}

/// The report for the app's current view.
pub fn report(app: &App) -> Report<'_> {
    let view = app.view();
    let detail = view
        .detail
        .as_ref()
        .filter(|d| d.copy.index == app.selected);
    Report {
        tool: "forge-top",
        version: env!("CARGO_PKG_VERSION"),
        segment: &app.config.segment,
        link: &view.link,
        reason: view.reason.as_deref(),
        taken_utc: format!("{} UTC", human::date_time(view.unix_ns)),
        session_hex: view.sample.as_ref().map(|s| human::session(s.session_id())),
        sample: view.sample.as_ref(),
        rates: &view.rates,
        alarms: &app.alarms.active,
        events: app.alarms.log.iter().collect(),
        selected_slot: detail,
        selected_slot_hex: detail.map(|d| {
            d.copy
                .bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join("")
        }),
        offline: view.offline.as_ref(),
        forge_top: ToolInfo {
            me: &view.me,
            cpu_percent: view.me_cpu_pct,
            refresh_ms: app.refresh.as_millis() as u64,
        },
    }
}

/// The report as pretty JSON: the ring's, or on the host view every ring's.
pub fn json(app: &App) -> String {
    if app.on_host() {
        return host_json(app);
    }
    serde_json::to_string_pretty(&report(app)).unwrap_or_else(|e| {
        serde_json::json!({ "error": e.to_string(), "kind": "serialize" }).to_string()
    })
}

/// The decoded state as a short text report, for `--once`.
pub fn text_report(app: &App) -> String {
    let view = app.view();
    let mut o = String::new();
    if let Some(f) = &view.offline {
        use crate::model::OfflineKind;
        let what = match f.kind {
            OfflineKind::Recording if f.frames == 0 => {
                "a recording, empty: it holds no frame".to_owned()
            }
            OfflineKind::Recording => format!(
                "a recording, at frame {} of {}",
                human::count(f.frame + 1),
                human::count(f.frames)
            ),
            OfflineKind::Image => format!("a ring image of {} slots", human::count(f.frames)),
        };
        let _ = writeln!(o, "file      {}: {what}", f.path);
    }
    let Some(s) = &view.sample else {
        let _ = writeln!(
            o,
            "segment   {}: {}{}",
            app.config.segment,
            if view.offline.is_some() {
                ""
            } else {
                "not attached: "
            },
            view.reason.as_deref().unwrap_or("unknown")
        );
        return o;
    };
    let r = &view.rates;
    let _ = writeln!(
        o,
        "segment   {} ({}), {}, layout v{}, {} slots x {} B, payload {} B",
        s.header.name,
        s.path,
        human::bytes(s.header.file_size),
        s.header.identity.layout_version,
        s.slot_count(),
        s.header.identity.slot_size,
        s.header.identity.payload_capacity
    );
    let _ = writeln!(
        o,
        "session   {} (age {}), state {}, init pid {}, created {} UTC",
        human::session(s.session_id()),
        human::duration_ns(s.age_ns),
        s.state(),
        s.header.identity.init_pid,
        human::date_time(s.header.identity.created_unix_ns)
    );
    let _ = writeln!(
        o,
        "indices   head {} tail {} in flight {}/{} ({:.1}%)",
        s.head(),
        s.tail(),
        s.header.in_flight(),
        s.slot_count(),
        s.fill_ratio() * 100.0
    );
    let _ = writeln!(
        o,
        "rates     produced {} fr/s, consumed {} fr/s, {} (peak {} fr/s)",
        human::si(r.frames_per_s),
        human::si(r.consumed_per_s),
        human::bytes_rate(r.bytes_per_s),
        human::si(r.peak_frames_per_s)
    );
    let l = &s.latency;
    let _ = writeln!(
        o,
        "latency   p50 {} p90 {} p99 {} p99.9 {} max {} mean {} ({} samples since start)",
        l.show(l.p50_ns),
        l.show(l.p90_ns),
        l.show(l.p99_ns),
        l.show(l.p999_ns),
        human::maybe_duration_ns(Some(l.max_ns).filter(|&m| m > 0)),
        human::maybe_duration_ns(l.mean_ns),
        l.count
    );
    for role in Role::ALL {
        let side = s.side(role);
        let Side { line, holder, .. } = side;
        // The same word as the TUI's daemon panel (`Side::state_word`): a
        // clean stop is "stopped", only a holder that left the role active
        // without one is DEAD, a running holder asleep on its futex is
        // "parked". The JSON says the same in two fields: `liveness`
        // (running, dead, ...) and the line's `sleeping`.
        let alive = side.state_word();
        let proc = holder.proc.as_ref().map_or(String::new(), |p| {
            format!(
                " (kernel: allowed {}, on {})",
                p.cpus_allowed,
                p.last_cpu.map_or("?".into(), |c| c.to_string())
            )
        });
        let _ = writeln!(
            o,
            "{:<9} pid {} {alive}, role {}, core {}{proc}, heartbeat {}, session {}, wait {}, {} frames, {} bytes, backpressure {}",
            role.name(),
            line.pid,
            line.role_state,
            line.core.map_or("-".into(), |c| c.to_string()),
            holder.heartbeat_age_ns.map_or("never".into(), human::duration_ns),
            if line.session == 0 {
                "-".into()
            } else if line.session == s.session_id() {
                "= segment".to_string()
            } else {
                format!("{} (MISMATCH)", human::session(line.session))
            },
            side.wait().unwrap_or_else(|| "-".into()),
            line.messages,
            line.bytes,
            line.backpressure
        );
    }
    if app.alarms.active.is_empty() {
        let _ = writeln!(o, "alarms    none");
    }
    for a in &app.alarms.active {
        let _ = writeln!(o, "ALARM     [{:?}] {}", a.severity, a.text);
    }
    o
}

/// The screenshot directory, opened: created 0700 if missing, and refused
/// (the message names it and says why) unless it is a real directory of
/// this user that nobody else may write. Checked again at every save, so
/// a directory planted or opened up meanwhile is noticed.
pub fn screenshot_dir(path: &Path) -> Result<Dir, String> {
    Dir::private(path).map_err(|e| match e.hint("--force") {
        Some(hint) if matches!(e, OutputError::UnsafeDir { .. }) => {
            format!("{e}; {hint}, with --screenshot-dir")
        }
        _ => e.to_string(),
    })
}

/// Writes `forge-top-<session>-<time>.{svg,txt,json}` into `dir`, and
/// `.forge` with them when `image` is given; returns the common path stem.
/// Nothing is replaced: a name already taken (two saves in one second)
/// gets a `-2`, `-3`, … suffix, and every file is created exclusively, so
/// a link planted under the next name is never written through.
pub fn save_bundle(
    dir: &Dir,
    app: &App,
    buf: &Buffer,
    image: Option<&forge_record::image::RingImage>,
) -> Result<PathBuf, String> {
    let files: Vec<(&str, Vec<u8>)> = [
        Some(("svg", buffer_svg(buf).into_bytes())),
        Some(("txt", buffer_text(buf).into_bytes())),
        Some(("json", json(app).into_bytes())),
        image.map(|img| ("forge", img.to_bytes())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let exts: Vec<&str> = files.iter().map(|(ext, _)| *ext).collect();
    let stem = free_stem(dir, &stem(app), &exts)?;
    for (ext, bytes) in &files {
        dir.write(format!("{stem}.{ext}"), bytes, &Output::new())
            .map_err(|e| e.to_string())?;
    }
    Ok(dir.path().join(stem))
}

/// The first of `base`, `base-2`, `base-3`, … under which no file with one
/// of `exts` exists in `dir`.
fn free_stem(dir: &Dir, base: &str, exts: &[&str]) -> Result<String, String> {
    (1..=1000)
        .map(|n| match n {
            1 => base.to_owned(),
            n => format!("{base}-{n}"),
        })
        .find(|stem| {
            exts.iter()
                .all(|ext| dir.what_is(format!("{stem}.{ext}")).is_none())
        })
        .ok_or_else(|| {
            format!(
                "{} already holds {base}.* and 999 more like it",
                dir.path().display()
            )
        })
}

/// The file stem of everything saved of the app's current view:
/// `forge-top-<session>-<time>`.
fn stem(app: &App) -> String {
    if app.on_host() {
        let unix = app.host.as_ref().map_or(0, |h| h.unix_ns);
        return format!("forge-top-host-{}", human::file_stamp(unix.max(1)));
    }
    let view = app.view();
    let session = view.sample.as_ref().map_or("nosession".to_string(), |s| {
        format!("{:016x}", s.session_id())
    });
    format!(
        "forge-top-{session}-{}",
        human::file_stamp(view.unix_ns.max(1))
    )
}

/// Writes `image` (the raw ring: header, holders, every slot as copied) as
/// `<stem>.forge` into `dir`, never replacing anything; returns its path.
pub fn save_image(
    dir: &Dir,
    app: &App,
    image: &forge_record::image::RingImage,
) -> Result<PathBuf, String> {
    let stem = free_stem(dir, &stem(app), &["forge"])?;
    let name = format!("{stem}.forge");
    dir.write(&name, &image.to_bytes(), &Output::new())
        .map_err(|e| e.to_string())?;
    Ok(dir.path().join(name))
}

/// Writes one frame by the path's extension: `.svg`, `.json`, else text.
/// An existing file is refused unless `replace`; a link is never followed.
pub fn write_frame(path: &Path, app: &App, buf: &Buffer, replace: bool) -> Result<(), OutputError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| OutputError::Io {
            action: "create the directory",
            path: parent.to_owned(),
            source,
        })?;
    }
    let body = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => buffer_svg(buf),
        Some("json") => json(app),
        _ => buffer_text(buf),
    };
    Output::new().replace(replace).write(path, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn svg_keeps_colours_and_escapes_text() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        buf.set_string(0, 0, "a<b&c", Style::new().fg(Color::Red).bg(Color::Blue));
        let svg = buffer_svg(&buf);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("a&lt;b&amp;c"));
        assert!(svg.contains("#cd3131"), "red foreground kept");
        assert!(svg.contains("#2472c8"), "blue background kept");
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn text_trims_each_line() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 2));
        buf.set_string(0, 1, "hi", Style::new());
        assert_eq!(buffer_text(&buf), "\nhi\n");
    }

    #[test]
    fn indexed_colours_follow_the_xterm_cube() {
        assert_eq!(indexed(16), "#000000");
        assert_eq!(indexed(231), "#ffffff");
        assert_eq!(indexed(232), "#080808");
    }
}
