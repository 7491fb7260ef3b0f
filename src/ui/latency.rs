//! The latency panel: the consumer's transit-latency histogram as
//! quantiles and bars, over the last second (or since start when the last
//! second had no samples).
//!
//! Bars never lie about their range: when the chart has too little room for
//! every bin, adjacent bins merge (their labels say the merged range), and
//! empty bins at either end are left out; an empty bin inside draws nothing.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::draw::block;
use super::fit::{self, Piece, MUST};
use super::theme::Theme;
use crate::app::App;
use crate::model::{human, LatencyBin};

/// Label column width: ` <100ns `.
const LABEL_W: usize = 8;
/// Share column width: ` 100%`.
const SHARE_W: usize = 5;
/// The narrowest bar worth drawing.
const MIN_BAR: usize = 3;

fn bin_label(b: &LatencyBin) -> String {
    if b.hi_ns == u64::MAX {
        format!(">{}", human::duration_label(b.lo_ns))
    } else {
        format!("<{}", human::duration_label(b.hi_ns))
    }
}

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let Some(s) = &view.sample else {
        frame.render_widget(block(&["Latency".into()], app, t, area.width, false), area);
        return;
    };
    let (stats, window) = if s.latency_recent.count > 0 {
        (&s.latency_recent, "last 1 s")
    } else {
        (&s.latency, "since start")
    };
    let titles = [
        format!(
            "Latency · {window} · {} samples",
            human::si(stats.count as f64)
        ),
        format!("Latency · {window}"),
        "Latency".into(),
    ];
    let outer = block(&titles, app, t, area.width, false);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let text_h = inner.height.min(2);
    let [text, chart] =
        Layout::vertical([Constraint::Length(text_h), Constraint::Min(0)]).areas(inner);
    let (l, v) = (t.label, t.value);
    let q = |name: &str, ns: Option<u64>, priority: u8| {
        Piece::kv(name, l, &[stats.show(ns)], v, priority).after("  ")
    };
    let max = Some(s.latency.max_ns).filter(|&m| m > 0);
    let lines = [
        vec![
            q("p50 ", stats.p50_ns, MUST),
            q("p90 ", stats.p90_ns, 60),
            q("p99 ", stats.p99_ns, 80),
        ],
        vec![
            q("p99.9 ", stats.p999_ns, 70),
            // The largest sample is kept since start, whatever the window.
            Piece::text(
                [
                    format!("max ever {}", human::maybe_duration_ns(max)),
                    format!("max {}", human::maybe_duration_ns(max)),
                ],
                v,
                50,
            )
            .after("  "),
            q("mean ", stats.mean_ns, 40),
        ],
    ]
    .into_iter()
    .take(usize::from(text_h))
    .map(|pieces| fit::line(pieces, text.width))
    .collect::<Vec<_>>();
    super::draw::put_lines(frame, text, lines);
    if chart.height == 0 {
        return;
    }
    if stats.count == 0 {
        let note = Piece::text(
            ["no latency samples yet".into(), "no samples".into()],
            l,
            MUST,
        );
        super::draw::put_lines(frame, chart, [fit::line(vec![note], chart.width)]);
        return;
    }
    let Some(layout) = chart_layout(&stats.bins, chart) else {
        let note = Piece::text(["(widen the terminal for the chart)".into()], l, MUST);
        super::draw::put_lines(frame, chart, [fit::line(vec![note], chart.width)]);
        return;
    };
    let total: u64 = layout.bins.iter().map(|b| b.count).sum::<u64>().max(1);
    let mut lines: Vec<Vec<Span>> = vec![Vec::new(); layout.rows];
    for (i, b) in layout.bins.iter().enumerate() {
        let share = b.count as f64 / total as f64;
        let filled = if b.count > 0 {
            ((share * layout.bar as f64).round() as usize).clamp(1, layout.bar)
        } else {
            0
        };
        let style = if b.lo_ns >= 10_000 {
            t.bar_mid
        } else {
            t.bar_low
        };
        let line = &mut lines[i % layout.rows];
        line.push(Span::styled(format!(" {:>6} ", bin_label(b)), l));
        line.push(Span::styled("█".repeat(filled), style));
        line.push(Span::raw(" ".repeat(layout.bar - filled)));
        let pct = match b.count {
            0 => String::new(),
            _ if share < 0.005 => "<1%".into(),
            _ => format!("{:.0}%", share * 100.0),
        };
        line.push(Span::styled(format!("{pct:>SHARE_W$}"), v));
    }
    super::draw::put_lines(frame, chart, lines.into_iter().map(Line::from));
}

/// How the bars are laid out: which bins, in how many rows, how wide a bar.
#[derive(Debug, PartialEq)]
struct ChartLayout {
    bins: Vec<LatencyBin>,
    rows: usize,
    bar: usize,
}

/// The bins that fit `area`: empty bins at either end left out, then
/// neighbours merged until every column has room for a label, a bar of at
/// least [`MIN_BAR`] and a share. `None` when not even one bin fits.
fn chart_layout(bins: &[LatencyBin], area: Rect) -> Option<ChartLayout> {
    let first = bins.iter().position(|b| b.count > 0)?;
    let last = bins.iter().rposition(|b| b.count > 0)?;
    let used = &bins[first..=last];
    let rows = usize::from(area.height);
    for group in 1..=used.len() {
        let merged: Vec<LatencyBin> = used
            .chunks(group)
            .map(|c| LatencyBin {
                lo_ns: c[0].lo_ns,
                hi_ns: c[c.len() - 1].hi_ns,
                count: c.iter().fold(0u64, |a, b| a.saturating_add(b.count)),
            })
            .collect();
        let cols = merged.len().div_ceil(rows.max(1));
        let col_w = usize::from(area.width) / cols.max(1);
        if rows > 0 && col_w >= LABEL_W + MIN_BAR + SHARE_W {
            return Some(ChartLayout {
                bar: col_w - LABEL_W - SHARE_W,
                bins: merged,
                rows,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(lo_ns: u64, hi_ns: u64, count: u64) -> LatencyBin {
        LatencyBin {
            lo_ns,
            hi_ns,
            count,
        }
    }

    #[test]
    fn bins_merge_to_fit_and_keep_their_true_ranges() {
        let bins = [
            bin(0, 100, 0),
            bin(100, 200, 5),
            bin(200, 500, 0),
            bin(500, 1000, 3),
            bin(1000, 2000, 2),
            bin(2000, u64::MAX, 0),
        ];
        // Room for everything: empty ends dropped, the empty middle kept.
        let wide = chart_layout(&bins, Rect::new(0, 0, 80, 4)).unwrap();
        assert_eq!(wide.bins.len(), 4);
        assert_eq!((wide.bins[0].lo_ns, wide.bins[3].hi_ns), (100, 2000));
        // One row, 32 columns: two columns of 16, bins merged by pairs.
        let narrow = chart_layout(&bins, Rect::new(0, 0, 32, 1)).unwrap();
        assert_eq!(narrow.bins, vec![bin(100, 500, 5), bin(500, 2000, 5)],);
        assert!(chart_layout(&bins, Rect::new(0, 0, 10, 1)).is_none());
        assert!(chart_layout(&[bin(0, 100, 0)], Rect::new(0, 0, 80, 4)).is_none());
    }
}
