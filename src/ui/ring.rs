//! The ring panel: head, tail, in flight, the fill gauge and its history.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Gauge, Sparkline};
use ratatui::Frame;

use super::draw::block;
use super::fit::{self, number, Piece, MUST};
use super::theme::Theme;
use crate::app::App;

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let outer = block(&["Ring".into()], app, t, area.width, false);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let Some(s) = &view.sample else { return };
    let text_h = inner.height.min(3);
    let [text, gauge, spark] = Layout::vertical([
        Constraint::Length(text_h),
        Constraint::Length(u16::from(inner.height > text_h)),
        Constraint::Min(0),
    ])
    .areas(inner);
    let (l, v) = (t.label, t.value);
    let n = u64::from(s.slot_count().max(1));
    let index = |label: &str, value: u64| {
        vec![
            Piece::kv(label, l, &number(value), v, MUST),
            Piece::kv("slot ", l, &[(value % n).to_string()], l, 20).after(" "),
        ]
    };
    let mut head = index("head ", s.head());
    if s.tail() > s.head() {
        // The producer stores head every `batch` frames; the consumer may
        // have read past it. Said where head is, before anything else goes.
        let batch = s.header.producer.batch;
        head.insert(
            1,
            Piece::text(
                [
                    format!("(stored every {batch} frames)"),
                    format!("(every {batch} fr)"),
                    "(lags)".into(),
                ],
                t.warn,
                90,
            )
            .after(" "),
        );
    }
    // A recording knows tail only as a lower bound: say so.
    let (tail_label, flight_label) = if s.recorded {
        ("tail ≥ ", "in flight ≤ ")
    } else {
        ("tail ", "in flight ")
    };
    let in_flight = vec![
        Piece::kv(flight_label, l, &number(s.header.in_flight()), v, MUST),
        Piece::text([format!("/ {}", s.slot_count())], l, 30).after(" "),
    ];
    let lines = [head, index(tail_label, s.tail()), in_flight]
        .into_iter()
        .take(usize::from(text_h))
        .map(|pieces| fit::line(pieces, text.width))
        .collect::<Vec<_>>();
    super::draw::put_lines(frame, text, lines);
    let ratio = s.fill_ratio();
    let style = if ratio >= 1.0 {
        t.bar_high
    } else if ratio >= 0.75 {
        t.bar_mid
    } else {
        t.bar_low
    };
    if gauge.height > 0 {
        let le = if s.recorded { "≤ " } else { "" };
        let label = [
            format!("fill {le}{:.1}%", ratio * 100.0),
            format!("{le}{:.0}%", ratio * 100.0),
        ]
        .into_iter()
        .find(|l| l.len() <= usize::from(gauge.width))
        .unwrap_or_default();
        frame.render_widget(
            Gauge::default()
                .gauge_style(style.bg(ratatui::style::Color::Black))
                .ratio(ratio)
                .label(label),
            gauge,
        );
    }
    let history: Vec<u64> = tail(&view.history.fill, spark.width);
    frame.render_widget(
        Sparkline::default().data(&history).max(1000).style(style),
        spark,
    );
}

/// The last `width` points of a history, right-aligned.
pub(crate) fn tail(q: &std::collections::VecDeque<u64>, width: u16) -> Vec<u64> {
    let w = usize::from(width);
    q.iter().skip(q.len().saturating_sub(w)).copied().collect()
}
