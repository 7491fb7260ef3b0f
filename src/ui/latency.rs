//! The latency panel: the consumer's transit-latency histogram as
//! quantiles and a bar chart, over the last second (or since start when the
//! last second had no samples).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::App;
use crate::model::human;

use super::{block, theme};

fn bin_label(lo: u64, hi: u64) -> String {
    if hi == u64::MAX {
        format!(">{}", human::duration_label(lo))
    } else {
        format!("<{}", human::duration_label(hi))
    }
}

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let Some(s) = &view.sample else {
        frame.render_widget(block("Latency", app), area);
        return;
    };
    let (stats, window) = if s.latency_recent.count > 0 {
        (&s.latency_recent, "last 1 s")
    } else {
        (&s.latency, "since start")
    };
    let outer = block(
        &format!(
            "Latency · {window} · {} samples",
            human::si(stats.count as f64)
        ),
        app,
    );
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [text, chart] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(inner);
    let l = theme::label();
    let v = theme::value();
    let q = |name: &'static str, ns: Option<u64>| {
        [
            Span::styled(name, l),
            Span::styled(format!("{:<8}", human::maybe_duration_ns(ns)), v),
        ]
    };
    let lines = vec![
        Line::from(
            [
                q("p50 ", stats.p50_ns),
                q("p90 ", stats.p90_ns),
                q("p99 ", stats.p99_ns),
            ]
            .concat(),
        ),
        Line::from(
            [
                q("p99.9 ", stats.p999_ns),
                q("max ", Some(s.latency.max_ns).filter(|&m| m > 0)),
                q("mean ", stats.mean_ns),
            ]
            .concat(),
        ),
    ];
    frame.render_widget(Paragraph::new(lines), text);
    if stats.count == 0 {
        frame.render_widget(
            Paragraph::new(Span::styled("no latency samples yet", l)),
            chart,
        );
        return;
    }
    // Two columns of horizontal bars: one row per bin, label, bar, share.
    let total: u64 = stats.bins.iter().map(|b| b.count).sum::<u64>().max(1);
    let rows = usize::from(chart.height).max(1);
    let cols = stats.bins.len().div_ceil(rows).max(1);
    let col_w = usize::from(chart.width) / cols;
    let bar_w = col_w.saturating_sub(1 + 6 + 1 + 5);
    let mut lines: Vec<Vec<Span>> = vec![Vec::new(); rows];
    for (i, b) in stats.bins.iter().enumerate() {
        let share = b.count as f64 / total as f64;
        let filled = if b.count > 0 {
            ((share * bar_w as f64).round() as usize).max(1)
        } else {
            0
        };
        let color = if b.lo_ns >= 10_000 {
            Color::Yellow
        } else {
            Color::Green
        };
        let line = &mut lines[i % rows];
        line.push(Span::styled(
            format!(" {:>6} ", bin_label(b.lo_ns, b.hi_ns)),
            l,
        ));
        line.push(Span::styled("█".repeat(filled), Style::new().fg(color)));
        line.push(Span::raw(" ".repeat(bar_w - filled.min(bar_w))));
        line.push(Span::styled(
            if b.count > 0 {
                format!("{:>4.0}%", share * 100.0)
            } else {
                "     ".into()
            },
            v,
        ));
    }
    frame.render_widget(
        Paragraph::new(lines.into_iter().map(Line::from).collect::<Vec<_>>()),
        chart,
    );
}
