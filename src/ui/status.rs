//! The status line: a prompt being typed, the last message, or the keys
//! that fit (from the one binding table, left to right by importance).

use ratatui::layout::Rect;
use ratatui::Frame;

use super::fit::{self, Piece, MUST};
use super::theme::Theme;
use crate::app::layout::one_line_end;
use crate::app::{App, PromptKind};
use crate::keys::{Action, Binding, When, BINDINGS, HOST};

/// Draws the line.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let line = if let Some(p) = &app.prompt {
        let (sign, hint) = match p.kind {
            PromptKind::Jump => (":", "sequence number, Enter to jump, Esc to cancel"),
            PromptKind::Search => (
                "/",
                "pend, done, free, torn, a kind or body text; Enter, Esc",
            ),
            PromptKind::Filter => (
                "/",
                "rings whose name, state, program, pid or alarm holds this; Enter keeps, Esc clears",
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
    } else if app.on_host() {
        host_keys(app, t, area.width)
    } else {
        let mut pieces = Vec::new();
        if app.host.is_some() {
            // Opened from the host view: Esc goes back (the Escape binding's key).
            if let Some(esc) = BINDINGS.iter().find(|b| b.action == Action::Escape) {
                pieces.push(
                    Piece::spans(
                        vec![
                            (format!(" {} ", esc.first_key()), t.key),
                            (" host view".to_owned(), t.label),
                        ],
                        245,
                    )
                    .after(" "),
                );
            }
        }
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

/// Keys of `table` that have a word for the bar, earlier ones first; the
/// help always.
fn keys<A: Copy>(table: &[Binding<A>], t: &Theme) -> Vec<Piece> {
    let n = table.len();
    table
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let short = b.short?;
            let priority = if short == "help" {
                240
            } else {
                (200 - i * 200 / n) as u8
            };
            Some(
                Piece::spans(
                    vec![
                        (format!(" {} ", b.first_key()), t.key),
                        (format!(" {short}"), t.label),
                    ],
                    priority,
                )
                .after(" "),
            )
        })
        .collect()
}

/// The host view's bar: the filter, then its keys.
fn host_keys(app: &App, t: &Theme, width: u16) -> ratatui::text::Line<'static> {
    let mut pieces = Vec::new();
    if let Some(h) = app.host.as_ref().filter(|h| !h.filter.is_empty()) {
        let shown = h.rows().len();
        pieces.push(Piece::text(
            [
                format!(" /{} {shown} of {} · Esc ", h.filter, h.rings.len()),
                format!(" /{} ", h.filter),
            ],
            t.badge_info,
            250,
        ));
    }
    pieces.extend(keys(HOST, t));
    fit::line(pieces, width)
}
