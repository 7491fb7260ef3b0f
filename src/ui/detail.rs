//! The selected slot: decoded as a telemetry frame (fields, checksum) or as
//! a hex + ASCII dump. A torn copy is said to be torn, never shown.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::app::{App, DetailMode};
use crate::model::{SlotState, SlotView};

use super::{block, theme};

/// Draws the pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let Some(slot) = view.detail.as_ref().filter(|d| d.index == app.selected) else {
        let outer = block(&format!("Slot {}", app.selected), app);
        let inner = outer.inner(area);
        frame.render_widget(outer, area);
        frame.render_widget(
            Paragraph::new(Span::styled("reading…", theme::label())),
            inner,
        );
        return;
    };
    let mode = match app.detail_mode {
        DetailMode::Decoded => "decoded · x: hex",
        DetailMode::Hex => "hex · x: decoded",
    };
    let outer = block(
        &format!("Slot {} · {} · {mode}", slot.index, slot.state.name()),
        app,
    );
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let busy = view
        .sample
        .as_ref()
        .is_some_and(|s| s.producer_may_write(slot.index));
    let lines = if slot.torn {
        torn(slot, busy)
    } else {
        match app.detail_mode {
            DetailMode::Decoded => decoded(slot),
            DetailMode::Hex => hex(slot, inner.width),
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn kv(k: &str, v: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<11}"), theme::label()),
        Span::styled(v.into(), theme::value()),
    ])
}

fn torn(slot: &SlotView, busy: bool) -> Vec<Line<'static>> {
    let why = if busy {
        "This is the producer's next slot: it may be writing it right now, so the copy \
         cannot be trusted and its bytes are not shown. Step back (k) for the newest frame."
    } else {
        "The producer overwrote this slot while it was being copied; \
         the bytes are not shown because they cannot be trusted. \
         The next refresh copies it again."
    };
    vec![
        Line::from(Span::styled(
            " TORN COPY ",
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        )),
        Line::from(Span::styled(why, theme::warn())),
        kv(
            "slot word",
            format!(
                "len {}  flags {:#06x}  stamp {}",
                slot.len, slot.flags, slot.stamp
            ),
        ),
    ]
}

fn decoded(slot: &SlotView) -> Vec<Line<'static>> {
    let mut lines = vec![kv(
        "slot word",
        format!(
            "len {}  flags {:#06x}  stamp {}",
            slot.len, slot.flags, slot.stamp
        ),
    )];
    let state = match slot.state {
        SlotState::Pending => "pending: published, not yet released",
        SlotState::Consumed => "consumed: released, may be overwritten",
        SlotState::Free => "free: never written in this session",
    };
    lines.push(kv(
        "position",
        match slot.position {
            Some(p) => format!("{p}  ({state})"),
            None => format!("-  ({state})"),
        },
    ));
    if slot.state == SlotState::Free {
        return lines;
    }
    match (&slot.frame, &slot.frame_error) {
        (Some(f), _) => {
            let seq_note = match slot.position {
                Some(p) if p == f.sequence => Span::styled("  = position", theme::good()),
                Some(_) => Span::styled("  ≠ position", theme::warn()),
                None => Span::raw(""),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{:<11}", "sequence"), theme::label()),
                Span::styled(f.sequence.to_string(), theme::value()),
                seq_note,
            ]));
            lines.push(kv(
                "timestamp",
                format!(
                    "{}.{:09} s (monotonic)",
                    f.timestamp_ns / 1_000_000_000,
                    f.timestamp_ns % 1_000_000_000
                ),
            ));
            lines.push(kv("source", f.source_id.to_string()));
            lines.push(kv("kind", f.kind.clone()));
            lines.push(kv("body", format!("{} bytes", f.body_len)));
            let check = if f.valid {
                Span::styled("✓ valid", theme::good())
            } else {
                Span::styled(
                    format!("✗ {}", f.error.as_deref().unwrap_or("not checked")),
                    theme::bad(),
                )
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{:<11}", "checksum"), theme::label()),
                Span::styled(format!("{:#010x} ", f.checksum), theme::value()),
                check,
            ]));
            lines.push(kv("body text", format!("\"{}\"", f.body_preview)));
        }
        (None, Some(e)) => {
            lines.push(Line::from(Span::styled(
                format!("not a telemetry frame: {e}"),
                theme::warn(),
            )));
        }
        (None, None) => {}
    }
    lines
}

fn hex(slot: &SlotView, width: u16) -> Vec<Line<'static>> {
    // offset(6) + per byte 3 + gap + ascii per byte 1.
    let per = if width >= 6 + 16 * 4 + 2 { 16 } else { 8 };
    let mut lines = Vec::new();
    if slot.bytes.is_empty() {
        lines.push(Line::from(Span::styled(
            if slot.state == SlotState::Free {
                "free slot: no bytes"
            } else {
                "no bytes"
            },
            theme::label(),
        )));
    }
    for (i, chunk) in slot.bytes.chunks(per).enumerate() {
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
        let width = per * 3 + usize::from(per > 8);
        lines.push(Line::from(vec![
            Span::styled(format!("{:04x}  ", i * per), theme::label()),
            Span::styled(format!("{hex:<width$}"), theme::value()),
            Span::styled(format!(" {ascii}"), Style::new().fg(Color::Cyan)),
        ]));
    }
    lines
}
