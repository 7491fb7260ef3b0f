//! The selected slot: decoded as a telemetry frame (fields, checksum, age)
//! or as a hex + ASCII dump.
//!
//! What the pane cannot vouch for it says instead of showing: a torn copy's
//! bytes are never drawn, and a selection the producer has lapped since it
//! was selected says how many laps ago it was overwritten.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::draw::block;
use super::fit::{self, number, Piece, MUST};
use super::slots::state_word;
use super::theme::Theme;
use crate::app::layout::words;
use crate::app::{App, DetailMode, Focus};
use crate::model::{human, SlotState, SlotView, FRAME_RELAYED};

/// Label column width.
const LABEL_W: usize = 11;

/// Draws the pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let focused = app.focus == Focus::Detail;
    let frozen_copy = app.frozen_slot(app.selected);
    let slot = frozen_copy
        .as_ref()
        .or(view.detail.as_ref())
        .filter(|d| d.copy.index == app.selected);
    let Some(slot) = slot else {
        let outer = block(
            &[format!("Slot {}", app.selected)],
            app,
            t,
            area.width,
            focused,
        );
        let inner = outer.inner(area);
        frame.render_widget(outer, area);
        let reading = fit::line(
            vec![Piece::text(["reading…".into()], t.label, MUST)],
            inner.width,
        );
        super::draw::put_lines(frame, inner, [reading]);
        return;
    };
    let (state, _) = state_word(slot, t);
    let mode = match app.detail_mode {
        DetailMode::Decoded => "decoded · x: hex",
        DetailMode::Hex => "hex · x: decoded",
    };
    let frozen = if frozen_copy.is_some() {
        " · frozen copy"
    } else {
        ""
    };
    let titles = [
        format!("Slot {} · {state} · {mode}{frozen}", slot.copy.index),
        format!("Slot {} · {state}{frozen}", slot.copy.index),
        format!("Slot {} · {state}", slot.copy.index),
        format!("Slot {}", slot.copy.index),
    ];
    let outer = block(&titles, app, t, area.width, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let w = inner.width;
    let mut lines = lapped(app, slot, w, t);
    let mono_ns = app
        .frozen
        .as_ref()
        .and_then(|f| f.image.as_ref())
        .map_or(view.sample_mono_ns, |img| img.mono_ns);
    lines.extend(if slot.recording == Some(false) {
        para(
            "Not recorded: the recording holds no frame for this slot at the cursor (the tap \
             missed it, or the recording began after it was written).",
            t.label,
            w,
        )
    } else if slot.torn {
        torn(slot, app.paused(), w, t)
    } else {
        match app.detail_mode {
            DetailMode::Decoded => decoded(slot, mono_ns, w, t),
            DetailMode::Hex => hex(slot, w, t),
        }
    });
    let lines: Vec<Line> = lines
        .into_iter()
        .skip(usize::from(app.detail_scroll))
        .collect();
    super::draw::put_lines(frame, inner, lines);
}

/// A sentence in as many whole-word lines as it takes.
fn para(text: &str, style: Style, width: u16) -> Vec<Line<'static>> {
    words(text, width)
        .into_iter()
        .map(|l| Line::from(Span::styled(l, style)))
        .collect()
}

/// A labelled value, its forms longest first; the label goes before the
/// value is shortened past its last form.
fn kv(label: &str, values: Vec<String>, style: Style, width: u16, t: &Theme) -> Line<'static> {
    fit::line(
        vec![Piece::kv(
            &format!("{label:<LABEL_W$}"),
            t.label,
            &values,
            style,
            MUST,
        )],
        width,
    )
}

/// The note shown when the frame selected is no longer in its slot.
fn lapped(app: &App, slot: &SlotView, width: u16, t: &Theme) -> Vec<Line<'static>> {
    let (Some(was), Some(now)) = (app.selected_position, slot.copy.position) else {
        return Vec::new();
    };
    let n = u64::from(
        app.view()
            .sample
            .as_ref()
            .map_or(1, |s| s.slot_count())
            .max(1),
    );
    if now <= was {
        return Vec::new();
    }
    let laps = (now - was) / n;
    let plural = if laps == 1 { "" } else { "s" };
    let text = if app.paused() {
        format!(
            "The frame selected (position {was}) had been overwritten {laps} lap{plural} before \
             the copy was taken: this slot of the frozen copy holds position {now}. Space thaws."
        )
    } else {
        // How long a frame stays in its slot at the producer's rate: at a
        // million frames a second, less than a refresh.
        let rate = app.view().rates.frames_per_s;
        let lap = if rate >= 1.0 {
            format!(
                " At {} frames/s the ring laps every {}:",
                human::si(rate),
                human::duration_ns((n as f64 / rate * 1e9) as u64)
            )
        } else {
            String::new()
        };
        format!(
            "The frame selected (position {was}) was overwritten {laps} lap{plural} ago: this slot \
             now holds position {now}.{lap} space freezes a copy of the whole ring to browse at \
             leisure, f follows the newest frame."
        )
    };
    let mut lines = para(&text, t.accent, width);
    lines.push(Line::raw(""));
    lines
}

fn slot_word(slot: &SlotView, width: u16, t: &Theme) -> Line<'static> {
    let relayed = if slot.copy.flags & FRAME_RELAYED != 0 {
        " (relayed)"
    } else {
        ""
    };
    kv(
        "slot word",
        vec![
            format!(
                "len {}  flags {:#06x}{relayed}  stamp {}",
                slot.copy.len, slot.copy.flags, slot.copy.stamp
            ),
            format!("len {}  flags {:#06x}", slot.copy.len, slot.copy.flags),
            format!("len {}", slot.copy.len),
        ],
        t.value,
        width,
        t,
    )
}

fn torn(slot: &SlotView, frozen: bool, width: u16, t: &Theme) -> Vec<Line<'static>> {
    let (badge, why) = if slot.overwritable {
        (
            " BEING WRITTEN ",
            if frozen {
                "The consumer had released this slot and the producer, which held its role, may \
                 have been writing its next lap into it while the copy was taken: its bytes are \
                 not shown. Space thaws."
            } else {
                "The consumer has released this slot and the producer, which holds its role, may \
                 be writing its next lap into it right now: a copy cannot be trusted, so its bytes \
                 are not shown. h selects the newest frame; space freezes a copy of the whole ring."
            },
        )
    } else {
        (
            " TORN COPY ",
            "The slot changed while it was being copied: its bytes are not shown because they \
             cannot be trusted. The next refresh copies it again.",
        )
    };
    let mut lines = vec![Line::from(Span::styled(
        badge,
        if slot.overwritable {
            t.badge_frozen
        } else {
            t.badge_bad
        },
    ))];
    lines.extend(para(why, t.warn, width));
    lines.push(slot_word(slot, width, t));
    lines
}

fn decoded(slot: &SlotView, mono_ns: u64, width: u16, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![slot_word(slot, width, t)];
    let state = match slot.copy.state {
        _ if slot.recording == Some(true) => "recorded; whether it was read yet is not recorded",
        SlotState::Pending => "pending: published, not yet released",
        SlotState::Consumed => "consumed: released, may be overwritten",
        SlotState::Free => "free: never written in this session",
    };
    let position = slot.copy.position.map_or(vec!["-".into()], number);
    lines.push(kv(
        "position",
        position
            .iter()
            .map(|p| format!("{p}  ({state})"))
            .chain(position.iter().cloned())
            .collect(),
        t.value,
        width,
        t,
    ));
    if slot.copy.state == SlotState::Free {
        return lines;
    }
    match (&slot.frame, &slot.frame_error) {
        (Some(f), _) => {
            let seq = number(f.sequence);
            let (note, style) = match slot.copy.position {
                Some(p) if p == f.sequence => ("  = position", t.good),
                Some(_) => ("  ≠ position", t.warn),
                None => ("", t.value),
            };
            lines.push(fit::line(
                vec![
                    Piece::kv(
                        &format!("{:<LABEL_W$}", "sequence"),
                        t.label,
                        &seq,
                        t.value,
                        MUST,
                    ),
                    Piece::text([note.to_owned()], style, 50),
                ],
                width,
            ));
            let secs = format!(
                "{}.{:09} s",
                f.timestamp_ns / 1_000_000_000,
                f.timestamp_ns % 1_000_000_000
            );
            let age = (f.timestamp_ns != 0 && f.timestamp_ns <= mono_ns)
                .then(|| format!("{} ago", human::duration_ns(mono_ns - f.timestamp_ns)));
            let stamp = match &age {
                Some(age) => vec![
                    format!("{secs} monotonic, {age}"),
                    format!("{secs}, {age}"),
                    age.clone(),
                ],
                None => vec![format!("{secs} monotonic"), secs.clone()],
            };
            lines.push(kv("timestamp", stamp, t.value, width, t));
            lines.push(kv(
                "source",
                vec![f.source_id.to_string()],
                t.value,
                width,
                t,
            ));
            lines.push(kv("kind", vec![f.kind.clone()], t.value, width, t));
            lines.push(kv(
                "body",
                vec![format!("{} bytes", f.body_len)],
                t.value,
                width,
                t,
            ));
            let (check, style) = if f.valid {
                (format!("{:#010x} ✓ valid", f.checksum), t.good)
            } else {
                (
                    format!(
                        "{:#010x} ✗ {}",
                        f.checksum,
                        f.error.as_deref().unwrap_or("not checked")
                    ),
                    t.bad,
                )
            };
            lines.push(kv(
                "checksum",
                vec![check, format!("{:#010x}", f.checksum)],
                style,
                width,
                t,
            ));
            // The body in whole words: a word wider than the pane shows as
            // `…`, never cut into another.
            let room = width.saturating_sub(LABEL_W as u16 + 1);
            for (i, l) in words(&f.body_preview, room).into_iter().enumerate() {
                let label = if i == 0 { "body text" } else { "" };
                lines.push(Line::from(vec![
                    Span::styled(format!("{label:<LABEL_W$}"), t.label),
                    Span::styled(format!("│{l}"), t.value),
                ]));
            }
        }
        (None, Some(e)) => {
            lines.extend(para(&format!("not a telemetry frame: {e}"), t.warn, width));
        }
        (None, None) => {}
    }
    lines
}

fn hex(slot: &SlotView, width: u16, t: &Theme) -> Vec<Line<'static>> {
    // offset (6) + 3 per byte (+1 gap at 8) + space + 1 per byte.
    let per = [16usize, 8, 4]
        .into_iter()
        .find(|&per| 6 + per * 3 + usize::from(per > 8) + 1 + per <= usize::from(width));
    let Some(per) = per else {
        return para("(widen the pane for the hex dump)", t.label, width);
    };
    if slot.copy.bytes.is_empty() {
        let text = if slot.copy.state == SlotState::Free {
            "free slot: no bytes"
        } else {
            "no bytes"
        };
        return para(text, t.label, width);
    }
    slot.copy
        .bytes
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let mut hex = String::new();
            for (j, b) in chunk.iter().enumerate() {
                if j == 8 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            let hex_w = per * 3 + usize::from(per > 8);
            Line::from(vec![
                Span::styled(format!("{:04x}  ", i * per), t.label),
                Span::styled(format!("{hex:<hex_w$}"), t.value),
                Span::styled(format!(" {ascii}"), t.accent),
            ])
        })
        .collect()
}
