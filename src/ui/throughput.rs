//! The throughput panel: frames/s and bytes/s from index and counter
//! deltas, their peaks, and a history sparkline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use crate::app::App;
use crate::model::human;

use super::{block, ring::tail, theme};

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let outer = block("Throughput", app);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let Some(s) = &view.sample else { return };
    let r = &view.rates;
    let [text, spark] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(inner);
    let l = theme::label();
    let v = theme::value();
    let lines = vec![
        Line::from(vec![
            Span::styled("produced ", l),
            Span::styled(format!("{:>8} fr/s", human::si(r.frames_per_s)), v),
            Span::styled(format!("  peak {}", human::si(r.peak_frames_per_s)), l),
        ]),
        Line::from(vec![
            Span::styled("consumed ", l),
            Span::styled(format!("{:>8} fr/s", human::si(r.consumed_per_s)), v),
        ]),
        Line::from(vec![
            Span::styled("bytes    ", l),
            Span::styled(format!("{:>12}", human::bytes_rate(r.bytes_per_s)), v),
            Span::styled(
                format!(" peak {}", human::bytes(r.peak_bytes_per_s as u64)),
                l,
            ),
        ]),
        Line::from(vec![
            Span::styled("total    ", l),
            Span::styled(
                format!("{:>8} fr", human::si(s.header.producer.messages as f64)),
                v,
            ),
            Span::styled(format!("  {}", human::bytes(s.header.producer.bytes)), l),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines), text);
    let history = tail(&view.history.frames, spark.width);
    frame.render_widget(
        Sparkline::default()
            .data(&history)
            .style(Style::new().fg(Color::Cyan)),
        spark,
    );
}
