//! The slot list: index, state, sequence number and length of the slots on
//! screen, with the tail and head marked and the selection highlighted; on
//! wider screens also the frame's age, kind and checksum.
//!
//! Three sources, and the title says which: the live rows sampled this tick;
//! the frozen copy of the whole ring; or, while a search filters the list,
//! the matching slots as the search's copy held them.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::Frame;

use super::draw::block;
use super::fit::{self, number, Align, Column, MUST};
use super::theme::Theme;
use crate::app::App;
use crate::model::{human, Sample, SlotState, SlotView};

/// The state word of a slot copy and its style. A copy the producer may
/// have been rewriting is `busy` (expected at the producer's next slots),
/// a copy that changed under us elsewhere is `TORN`, a whole copy whose
/// frame fails its checks is `bad`.
pub(crate) fn state_word(s: &SlotView, t: &Theme) -> (&'static str, Style) {
    match s.recording {
        Some(false) => return ("none", t.label),
        Some(true) if !s.torn => return ("rec", t.good),
        _ => {}
    }
    if s.torn && s.overwritable {
        return ("busy", t.accent2);
    }
    if s.torn {
        return ("TORN", t.bad);
    }
    if s.frame.as_ref().is_some_and(|f| f.error.is_some()) {
        return ("bad", t.bad);
    }
    match s.copy.state {
        SlotState::Pending => ("pend", t.warn),
        SlotState::Consumed => ("done", t.good),
        SlotState::Free => ("free", t.label),
    }
}

/// Where the rows come from.
struct Rows<'a> {
    rows: Vec<&'a SlotView>,
    /// CLOCK_MONOTONIC ns of the copy (frame ages are against it).
    mono_ns: u64,
    /// Whole copies: the checksum was checked.
    whole: bool,
    title: Vec<String>,
}

fn rows<'a>(app: &'a App, s: &Sample, height: usize) -> Rows<'a> {
    let view = app.view();
    let n = s.slot_count();
    if let Some(search) = app.search.as_ref().filter(|_| app.filtering()) {
        let rows: Vec<&SlotView> = search.rows.iter().skip(search.first).take(height).collect();
        let at = human::time_of_day(search.copied_unix_ns);
        let n = search.rows.len();
        let q = &search.query;
        return Rows {
            rows,
            mono_ns: search.copied_mono_ns,
            whole: true,
            title: vec![
                format!("Slots matching {q:?}: {n} (copy of {at}) · Esc: all"),
                format!("{q:?}: {n} (copy of {at})"),
                format!("{q:?}: {n}"),
                "Matches".into(),
            ],
        };
    }
    let range = |rows: &[&SlotView]| match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => vec![
            format!("Slots {}-{} of {n}", a.copy.index, b.copy.index),
            format!("{}-{} of {n}", a.copy.index, b.copy.index),
            "Slots".into(),
        ],
        _ => vec![format!("Slots (of {n})"), "Slots".into()],
    };
    if let Some(img) = app.frozen.as_ref().and_then(|f| f.image.as_ref()) {
        let rows: Vec<&SlotView> = (app.list_first..n)
            .take(height)
            .filter_map(|i| img.slots.get(i as usize))
            .collect();
        let mut title = range(&rows);
        title.insert(0, format!("{} · frozen copy", title[0]));
        return Rows {
            rows,
            mono_ns: img.mono_ns,
            whole: true,
            title,
        };
    }
    let rows: Vec<&SlotView> = view.slots.iter().take(height).collect();
    let title = range(&rows);
    Rows {
        rows,
        mono_ns: view.sample_mono_ns,
        whole: false,
        title,
    }
}

/// Draws the list.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let Some(s) = &view.sample else {
        frame.render_widget(block(&["Slots".into()], app, t, area.width, false), area);
        return;
    };
    let height = usize::from(area.height.saturating_sub(3));
    let src = rows(app, s, height);
    let focused = app.focus == crate::app::Focus::Slots;
    let outer = block(&src.title, app, t, area.width, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let n = u64::from(s.slot_count().max(1));
    // The T and H of the moment the slots shown were copied.
    let (head, tail) = app
        .frozen
        .as_ref()
        .filter(|f| f.image.is_some())
        .map_or((s.head(), s.tail()), |f| (f.head, f.tail));
    let tail_slot = (tail % n) as u32;
    let head_slot = (head % n) as u32;

    let mut mark = Column::new(" ", MUST, Align::Left);
    let mut index = Column::new("slot", MUST, Align::Right);
    let mut state = Column::new("state", MUST, Align::Left);
    let mut seq = Column::new("sequence", MUST, Align::Right).or_header("seq");
    let mut marks = Column::new("T/H", 85, Align::Left).or_header("");
    let mut len = Column::new("len", 60, Align::Right);
    let mut age = Column::new("age", 40, Align::Right);
    let mut kind = Column::new("kind", 35, Align::Left);
    let mut check = Column::new("checksum", 20, Align::Left).or_header("sum");
    let mut body = Column::new("body", 10, Align::Left);
    for row in &src.rows {
        let selected = row.copy.index == app.selected;
        mark.cell(vec![if selected { "▶" } else { " " }.into()], t.accent);
        index.cell(vec![row.copy.index.to_string()], t.value);
        let (word, style) = state_word(row, t);
        state.cell(vec![word.into()], style);
        let sequence = match (&row.frame, row.copy.position) {
            _ if row.torn => vec!["-".into()],
            (Some(f), _) => number(f.sequence),
            (None, Some(p)) => number(p).into_iter().map(|p| format!("@{p}")).collect(),
            (None, None) => vec!["-".into()],
        };
        seq.cell(sequence, t.value);
        let mut m = String::new();
        if row.copy.index == tail_slot {
            m.push('T');
        }
        if row.copy.index == head_slot {
            m.push('H');
        }
        marks.cell(vec![m], t.accent2);
        len.cell(vec![row.copy.len.to_string()], t.label);
        let frame_info = row.frame.as_ref().filter(|_| !row.torn);
        age.cell(
            vec![frame_info
                .filter(|f| f.timestamp_ns != 0 && f.timestamp_ns <= src.mono_ns)
                .map_or("-".into(), |f| {
                    human::duration_ns(src.mono_ns - f.timestamp_ns)
                })],
            t.label,
        );
        kind.cell(
            vec![frame_info.map_or("-".into(), |f| f.kind.clone())],
            t.value,
        );
        let (sum, style) = match frame_info {
            Some(f) if src.whole && f.valid => (format!("{:08x} ✓", f.checksum), t.good),
            Some(f) if src.whole => (format!("{:08x} ✗", f.checksum), t.bad),
            Some(f) => (format!("{:08x}", f.checksum), t.label),
            None => ("-".into(), t.label),
        };
        check.cell(vec![sum], style);
        // The body is a preview of data, not a number: shorter forms end
        // in an ellipsis.
        let text = frame_info.map_or(String::new(), |f| f.body_preview.clone());
        let forms = [48usize, 32, 20, 12]
            .into_iter()
            .map(|n| {
                if text.chars().count() <= n {
                    text.clone()
                } else {
                    text.chars()
                        .take(n - 1)
                        .chain(std::iter::once('…'))
                        .collect()
                }
            })
            .collect();
        body.cell(forms, t.label);
    }
    let table = fit::table(
        vec![mark, index, state, seq, marks, len, age, kind, check, body],
        inner.width,
        t.label,
    );
    let mut lines: Vec<Line> = vec![table.header];
    for (row, mut line) in src.rows.iter().zip(table.rows) {
        if row.copy.index == app.selected {
            line = t.select(line);
        }
        lines.push(line);
    }
    if src.rows.is_empty() && inner.height > 1 {
        lines.push(fit::line(
            vec![fit::Piece::text(["reading…".into()], t.label, MUST)],
            inner.width,
        ));
    }
    super::draw::put_lines(frame, inner, lines);
}
