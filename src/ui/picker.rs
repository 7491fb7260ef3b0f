//! The segment picker (`o`, or no segment at start): every Forge segment in
//! `/dev/shm` with its state, session, geometry, holders and rate.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear};
use ratatui::Frame;

use super::fit::{self, number, Align, Column, MUST};
use super::theme::Theme;
use crate::app::layout::centred;
use crate::app::layout::words;
use crate::app::App;
use crate::keys::PICKER;
use crate::model::{human, RoleSummary};

fn holder(r: Option<&RoleSummary>) -> Vec<String> {
    let Some(r) = r else { return vec!["-".into()] };
    let held = match r.held {
        Some(true) => "",
        Some(false) => " (gone)",
        None => " (?)",
    };
    if r.pid == 0 {
        return vec![r.state.to_string()];
    }
    vec![
        format!("{} {}{held}", r.pid, r.program),
        format!("{}{held}", r.pid),
    ]
}

/// The picker's keys, from its binding table: " ↑ choose · Enter open · … ".
fn footer() -> String {
    let keys: Vec<String> = PICKER
        .iter()
        .filter_map(|b| b.short.map(|s| format!("{} {s}", b.first_key())))
        .collect();
    format!(" {} ", keys.join(" · "))
}

/// Draws the picker in the body `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let Some(picker) = &app.picker else { return };
    let popup = centred(area, 140);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus)
        .title(Span::styled(" Segments in /dev/shm ", t.title))
        .title_bottom(Span::styled(footer(), t.label));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let mut lines = Vec::new();
    if let Some(e) = &picker.error {
        lines.extend(
            words(e, inner.width)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, t.bad))),
        );
    }
    if picker.entries.is_empty() && picker.error.is_none() {
        lines.extend(
            words(
                "no Forge segment found in /dev/shm (r looks again)",
                inner.width,
            )
            .into_iter()
            .map(|l| Line::from(Span::styled(l, t.label))),
        );
    }
    let mut mark = Column::new(" ", MUST, Align::Left);
    let mut name = Column::new("name", MUST, Align::Left);
    let mut state = Column::new("state", 90, Align::Left);
    let mut session = Column::new("session", 40, Align::Left);
    let mut slots = Column::new("slots", 50, Align::Right);
    let mut head = Column::new("head", 30, Align::Right);
    let mut rate = Column::new("frames/s", 70, Align::Right).or_header("fr/s");
    let mut producer = Column::new("producer", 60, Align::Left);
    let mut consumer = Column::new("consumer", 55, Align::Left);
    for (i, e) in picker.entries.iter().enumerate() {
        let selected = i == picker.selected;
        mark.cell(vec![if selected { "▶" } else { " " }.into()], t.accent);
        name.cell(vec![e.name.clone()], t.value);
        match &e.error {
            Some(err) => {
                state.cell(vec![err.clone(), "unreadable".into()], t.warn);
                for c in [
                    &mut session,
                    &mut slots,
                    &mut head,
                    &mut rate,
                    &mut producer,
                    &mut consumer,
                ] {
                    c.cell(vec![String::new()], t.label);
                }
            }
            None => {
                state.cell(vec![e.state.map_or("?".into(), |s| s.to_string())], t.value);
                session.cell(vec![human::session(e.session)], t.label);
                slots.cell(number(u64::from(e.slot_count)), t.value);
                head.cell(number(e.head), t.value);
                rate.cell(vec![e.frames_per_s.map_or("-".into(), human::si)], t.value);
                producer.cell(holder(e.roles.first()), t.value);
                consumer.cell(holder(e.roles.get(1)), t.value);
            }
        }
    }
    if !picker.entries.is_empty() {
        let table = fit::table(
            vec![
                mark, name, state, session, slots, head, rate, producer, consumer,
            ],
            inner.width,
            t.label,
        );
        lines.push(table.header);
        let room = usize::from(inner.height).saturating_sub(lines.len());
        let first = picker.selected.saturating_sub(room.saturating_sub(1));
        for (i, line) in table.rows.into_iter().enumerate().skip(first).take(room) {
            lines.push(if i == picker.selected {
                t.select(line)
            } else {
                line
            });
        }
    }
    super::draw::put_lines(frame, inner, lines);
}
