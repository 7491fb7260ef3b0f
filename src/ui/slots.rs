//! The slot list: index, state, sequence number and length of the slots on
//! screen, with the tail and head marked and the selection highlighted.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::App;
use crate::model::{SlotState, SlotView};

use super::{block, theme};

fn state_style(s: &SlotView, sample: &crate::model::Sample) -> (String, Style) {
    if s.torn && sample.producer_may_write(s.index) {
        // The producer's next slot: tearing is expected there.
        return ("busy".into(), Style::new().fg(Color::Magenta));
    }
    if s.torn {
        return ("TORN".into(), theme::bad());
    }
    match s.state {
        SlotState::Pending => ("pend".into(), Style::new().fg(Color::Yellow)),
        SlotState::Consumed => ("done".into(), Style::new().fg(Color::Green)),
        SlotState::Free => ("free".into(), theme::label()),
    }
}

/// Draws the list.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let Some(s) = &view.sample else {
        frame.render_widget(block("Slots", app), area);
        return;
    };
    let n = u64::from(s.slot_count().max(1));
    let tail_slot = (s.tail() % n) as u32;
    let head_slot = (s.head() % n) as u32;
    let title = format!(
        "Slots {}-{} of {}",
        view.slots.first().map_or(0, |r| r.index),
        view.slots.last().map_or(0, |r| r.index),
        s.slot_count()
    );
    let outer = block(&title, app);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let mut lines = vec![Line::from(Span::styled(
        "  slot state   sequence   len",
        theme::label(),
    ))];
    for row in view
        .slots
        .iter()
        .take(usize::from(inner.height.saturating_sub(1)))
    {
        let selected = row.index == app.selected;
        let (state, style) = state_style(row, s);
        let seq = match (&row.frame, row.position) {
            _ if row.torn => "-".to_string(),
            (Some(f), _) => f.sequence.to_string(),
            (None, Some(p)) => format!("@{p}"),
            (None, None) => "-".into(),
        };
        let mut marks = String::new();
        if row.index == tail_slot {
            marks.push('T');
        }
        if row.index == head_slot {
            marks.push('H');
        }
        let base = if selected {
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(if selected { "▶" } else { " " }, base.fg(Color::Cyan)),
            Span::styled(format!("{:>5} ", row.index), base.fg(Color::White)),
            Span::styled(format!("{state:<5}"), base.patch(style)),
            Span::styled(format!("{seq:>10} "), base.fg(Color::White)),
            Span::styled(format!("{:>5} ", row.len), base.fg(Color::Gray)),
            Span::styled(
                format!("{marks:<2}"),
                base.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
