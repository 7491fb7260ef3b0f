//! The throughput panel: frames/s and bytes/s from index and counter
//! deltas, their peaks, and a history sparkline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Sparkline;
use ratatui::Frame;

use super::draw::block;
use super::fit::{self, Piece, MUST};
use super::ring::tail;
use super::theme::Theme;
use crate::app::App;
use crate::model::{human, OfflineKind};

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let outer = block(
        &["Throughput".into(), "Rate".into()],
        app,
        t,
        area.width,
        false,
    );
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let Some(s) = &view.sample else { return };
    if view
        .offline
        .as_ref()
        .is_some_and(|o| o.kind == OfflineKind::Image)
    {
        // One moment has no rates.
        let lines = [Piece::text(
            ["an image is one moment: no rates".into(), "no rates".into()],
            t.label,
            MUST,
        )]
        .into_iter()
        .map(|p| fit::line(vec![p], inner.width))
        .chain(std::iter::once(fit::line(
            vec![Piece::kv(
                "total ",
                t.label,
                &[format!(
                    "{} fr",
                    human::si(s.header.producer.messages as f64)
                )],
                t.value,
                MUST,
            )],
            inner.width,
        )));
        super::draw::put_lines(frame, inner, lines);
        return;
    }
    let r = &view.rates;
    let text_h = inner.height.min(4);
    let [text, spark] =
        Layout::vertical([Constraint::Length(text_h), Constraint::Min(0)]).areas(inner);
    let (l, v) = (t.label, t.value);
    let target = s.header.pace.target_rate;
    let lines = [
        vec![
            Piece::kv(
                "produced ",
                l,
                &[
                    format!("{} fr/s", human::si(r.frames_per_s)),
                    human::si(r.frames_per_s),
                ],
                v,
                MUST,
            ),
            Piece::kv("of ", l, &[human::si(target as f64)], l, 40).after(" "),
            Piece::kv("peak ", l, &[human::si(r.peak_frames_per_s)], l, 30).after("  "),
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 1 || target > 0)
        .map(|(_, p)| p)
        .collect::<Vec<_>>(),
        // A recording samples tail once a second and no byte counters:
        // those rates would be made up.
        if s.recorded {
            vec![Piece::text(["consumed: not recorded".into()], l, MUST)]
        } else {
            vec![Piece::kv(
                "consumed ",
                l,
                &[
                    format!("{} fr/s", human::si(r.consumed_per_s)),
                    human::si(r.consumed_per_s),
                ],
                v,
                MUST,
            )]
        },
        if s.recorded {
            vec![Piece::text(["bytes: not recorded".into()], l, MUST)]
        } else {
            vec![
                Piece::kv("bytes ", l, &[human::bytes_rate(r.bytes_per_s)], v, MUST),
                Piece::kv("peak ", l, &[human::bytes_rate(r.peak_bytes_per_s)], l, 30).after("  "),
            ]
        },
        vec![Piece::kv(
            "total ",
            l,
            &[format!(
                "{} fr",
                human::si(s.header.producer.messages as f64)
            )],
            v,
            MUST,
        )]
        .into_iter()
        .chain(
            (!s.recorded)
                .then(|| Piece::text([human::bytes(s.header.producer.bytes)], l, 30).after("  ")),
        )
        .collect(),
    ]
    .into_iter()
    .take(usize::from(text_h))
    .map(|pieces| fit::line(pieces, text.width))
    .collect::<Vec<_>>();
    super::draw::put_lines(frame, text, lines);
    let history = tail(&view.history.frames, spark.width);
    // A quiet ring draws an empty line, not a wall of full bars.
    let max = history.iter().copied().max().unwrap_or(0).max(1);
    frame.render_widget(
        Sparkline::default().data(&history).max(max).style(t.spark),
        spark,
    );
}
