//! The ring panel: head, tail, in flight, the fill gauge and its history.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Sparkline};
use ratatui::Frame;

use crate::app::App;

use super::{block, theme};

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let outer = block("Ring", app);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let Some(s) = &view.sample else { return };
    let [text, gauge, spark] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let l = theme::label();
    let v = theme::value();
    let n = u64::from(s.slot_count().max(1));
    let lines = vec![
        Line::from(vec![
            Span::styled("head      ", l),
            Span::styled(format!("{:>12}", s.head()), v),
            Span::styled(format!(" slot {}", s.head() % n), l),
        ]),
        Line::from(vec![
            Span::styled("tail      ", l),
            Span::styled(format!("{:>12}", s.tail()), v),
            Span::styled(format!(" slot {}", s.tail() % n), l),
        ]),
        Line::from(vec![
            Span::styled("in flight ", l),
            Span::styled(format!("{:>12}", s.header.in_flight()), v),
            Span::styled(format!(" / {}", s.slot_count()), l),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines), text);
    let ratio = s.fill_ratio();
    let color = if ratio >= 1.0 {
        Color::Red
    } else if ratio >= 0.75 {
        Color::Yellow
    } else {
        Color::Green
    };
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::new().fg(color).bg(Color::Black))
            .ratio(ratio)
            .label(format!("fill {:.1}%", ratio * 100.0)),
        gauge,
    );
    let history: Vec<u64> = tail(&view.history.fill, spark.width);
    frame.render_widget(
        Sparkline::default()
            .data(&history)
            .max(1000)
            .style(Style::new().fg(color)),
        spark,
    );
}

/// The last `width` points of a history, right-aligned.
pub(crate) fn tail(q: &std::collections::VecDeque<u64>, width: u16) -> Vec<u64> {
    let w = usize::from(width);
    q.iter().skip(q.len().saturating_sub(w)).copied().collect()
}
