//! The status line: a prompt being typed, the last message, or the keys
//! that fit (from the one binding table, left to right by importance).

use ratatui::layout::Rect;
use ratatui::Frame;

use super::fit::{self, Piece, MUST};
use super::theme::Theme;
use crate::app::layout::one_line_end;
use crate::app::{App, PromptKind};
use crate::keys::{When, BINDINGS};

/// Draws the line.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let line = if let Some(p) = &app.prompt {
        let (sign, hint) = match p.kind {
            PromptKind::Jump => (":", "sequence number, Enter to jump, Esc to cancel"),
            PromptKind::Search => (
                "/",
                "pend, done, free, torn, a kind or body text; Enter, Esc",
            ),
        };
        fit::line(
            vec![
                Piece::fixed(format!("{sign}{}▏", p.text), t.value, MUST),
                Piece::fixed(format!("  {hint}"), t.label, 10),
            ],
            area.width,
        )
    } else if let Some(st) = &app.status {
        fit::line(
            vec![Piece::fixed(
                format!(" {}", one_line_end(&st.text, area.width.saturating_sub(1))),
                t.severity(st.severity),
                MUST,
            )],
            area.width,
        )
    } else {
        let mut pieces = Vec::new();
        if let Some(s) = &app.search {
            let at = match s.hits() {
                Some(m) => format!("{} of {}", s.at + 1, m.len()),
                None if s.matches.is_some() => "no match".into(),
                None => "searching…".into(),
            };
            pieces.push(Piece::text(
                [
                    format!(" /{} {at} · n N · Esc ", s.query),
                    format!(" /{} {at} ", s.query),
                ],
                t.badge_info,
                250,
            ));
        }
        let n = BINDINGS.len();
        let mode = app.mode();
        for (i, b) in BINDINGS.iter().enumerate() {
            let Some(short) = b.short else { continue };
            if b.when != When::Always && b.when != mode {
                continue;
            }
            // A recording's own keys come first: they are why it is open.
            let i = if b.when == When::Recording { 0 } else { i };
            // Earlier bindings matter more; the help is always reachable.
            let priority = if short == "help" {
                240
            } else {
                (200 - i * 200 / n) as u8
            };
            let key = b.first_key();
            pieces.push(
                Piece::spans(
                    vec![(format!(" {key} "), t.key), (format!(" {short}"), t.label)],
                    priority,
                )
                .after(" "),
            );
        }
        fit::line(pieces, area.width)
    };
    super::draw::put_lines(frame, area, [line]);
}
