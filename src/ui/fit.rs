//! Text that fits, or is left out: never cut.
//!
//! A number cut into another number is the worst thing an inspector can
//! show, so nothing here is ever clipped by the terminal. Each piece of a
//! line comes with shorter forms (`6,257,000` → `6.26M`) and a priority;
//! when the line is too wide, the least important piece first takes a
//! shorter form, then leaves the line. Tables do the same by column.
//!
//! ```text
//!  width 40: head 6257000 slot 488 · tail 6256990 slot 478
//!  width 24: head 6.26M · tail 6.26M
//!  width 10: head 6.26M
//! ```

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

/// Kept whatever the width (as long as it fits at all).
pub const MUST: u8 = 255;

/// One piece of a line: its forms, longest first, all meaning the same.
#[derive(Debug, Clone)]
pub struct Piece {
    forms: Vec<Vec<(String, Style)>>,
    priority: u8,
    /// Put before it when a piece before it is shown.
    gap: String,
}

impl Piece {
    /// A piece made of one styled text with shorter forms of it.
    pub fn text(forms: impl IntoIterator<Item = String>, style: Style, priority: u8) -> Self {
        Piece {
            forms: forms.into_iter().map(|f| vec![(f, style)]).collect(),
            priority,
            gap: String::new(),
        }
    }

    /// A label and a value, the value with shorter forms. The label always
    /// stays with its value: a bare number could be mistaken for another.
    pub fn kv(
        label: &str,
        label_style: Style,
        values: &[String],
        value_style: Style,
        priority: u8,
    ) -> Self {
        let forms: Vec<Vec<(String, Style)>> = values
            .iter()
            .map(|v| vec![(label.to_owned(), label_style), (v.clone(), value_style)])
            .collect();
        Piece {
            forms,
            priority,
            gap: String::new(),
        }
    }

    /// Fixed text (a separator, a badge): one form.
    pub fn fixed(text: impl Into<String>, style: Style, priority: u8) -> Self {
        Piece {
            forms: vec![vec![(text.into(), style)]],
            priority,
            gap: String::new(),
        }
    }

    /// Several styled texts shown together or not at all (a key and its
    /// word): one form.
    pub fn spans(parts: Vec<(String, Style)>, priority: u8) -> Self {
        Piece {
            forms: vec![parts],
            priority,
            gap: String::new(),
        }
    }

    /// Separated from the piece before it (when that one is shown) by `gap`.
    pub fn after(mut self, gap: &str) -> Self {
        self.gap = gap.to_owned();
        self
    }

    fn width(&self, form: usize) -> usize {
        self.forms[form].iter().map(|(t, _)| t.width()).sum()
    }
}

/// Lays `pieces` on one line of `width` columns: each at its longest form
/// while it fits, then, least important first, shorter forms, then fewer
/// pieces. Pieces keep their order. What is shown is whole.
pub fn line(pieces: Vec<Piece>, width: u16) -> Line<'static> {
    let width = usize::from(width);
    let priorities: Vec<u8> = pieces.iter().map(|p| p.priority).collect();
    let counts: Vec<usize> = pieces.iter().map(|p| p.forms.len()).collect();
    // Widths once, not once per step of giving way.
    let widths: Vec<Vec<usize>> = pieces
        .iter()
        .map(|p| (0..p.forms.len()).map(|f| p.width(f)).collect())
        .collect();
    let gaps: Vec<usize> = pieces.iter().map(|p| p.gap.width()).collect();
    let (form, shown) = give_way(&priorities, &[], &counts, width, |form, shown| {
        let mut sum = 0;
        let mut any = false;
        for i in (0..pieces.len()).filter(|&i| shown[i]) {
            if any {
                sum += gaps[i];
            }
            sum += widths[i][form[i]];
            any = true;
        }
        sum
    });
    let mut spans = Vec::new();
    for (i, p) in pieces.into_iter().enumerate().filter(|(i, _)| shown[*i]) {
        if !spans.is_empty() && !p.gap.is_empty() {
            spans.push(Span::raw(p.gap.clone()));
        }
        let parts = p.forms.into_iter().nth(form[i]).unwrap_or_default();
        spans.extend(parts.into_iter().map(|(t, s)| Span::styled(t, s)));
    }
    Line::from(spans)
}

/// How items (pieces of a line, columns of a table) give way until
/// `total(form, shown)` fits `width`: the least important item that can
/// still give something up takes its next shorter form, or leaves when an
/// item less important than any that could shorten is left; ties go to the
/// later item; then what left comes back, most important first, where a
/// wider item's leaving made room. An item's form is as important as the item unless `keep`
/// says otherwise (`keep[i][f]`: how important it is that item `i` keeps
/// form `f` rather than its next shorter one, so a long name can shorten
/// before a column leaves). When only what must stay is left and it does
/// not fit, nothing is shown rather than something cut. Returns each
/// item's form and whether it is shown.
fn give_way(
    priorities: &[u8],
    keep: &[Vec<u8>],
    forms: &[usize],
    width: usize,
    total: impl Fn(&[usize], &[bool]) -> usize,
) -> (Vec<usize>, Vec<bool>) {
    let n = priorities.len();
    let mut form = vec![0usize; n];
    let mut shown = vec![true; n];
    let keeping = |i: usize, f: usize| {
        keep.get(i)
            .and_then(|k| k.get(f))
            .copied()
            .unwrap_or(priorities[i])
    };
    while total(&form, &shown) > width {
        let least = |ok: &dyn Fn(usize) -> bool, rank: &dyn Fn(usize) -> u8| {
            (0..n)
                .filter(|&i| shown[i] && ok(i))
                .min_by_key(|&i| (rank(i), std::cmp::Reverse(i)))
        };
        let shorter = least(&|i| form[i] + 1 < forms[i], &|i| keeping(i, form[i]));
        let droppable = least(&|i| priorities[i] < MUST, &|i| priorities[i]);
        match (shorter, droppable) {
            (Some(s), Some(d)) if priorities[d] < keeping(s, form[s]) => shown[d] = false,
            (Some(s), _) => form[s] += 1,
            (None, Some(d)) => shown[d] = false,
            (None, None) => shown.iter_mut().for_each(|s| *s = false),
        }
    }
    if shown.iter().any(|&s| s) {
        // A wide item that left may leave room for one that left before it
        // (a long sentence goes, the short session fits again): the most
        // important come back first, each at the longest form that fits.
        let mut left: Vec<usize> = (0..n).filter(|&i| !shown[i]).collect();
        left.sort_by_key(|&i| (std::cmp::Reverse(priorities[i]), i));
        for i in left {
            shown[i] = true;
            let back = (form[i]..forms[i]).find(|&f| {
                form[i] = f;
                total(&form, &shown) <= width
            });
            shown[i] = back.is_some();
        }
    }
    (form, shown)
}

/// A number in full (`6257000`) and abbreviated (`6.26M`) when it is long.
pub fn number(n: u64) -> Vec<String> {
    let full = n.to_string();
    let short = crate::model::human::si(n as f64);
    if short.len() < full.len() {
        vec![full, short]
    } else {
        vec![full]
    }
}

/// How a table column gives way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Left-aligned (words).
    Left,
    /// Right-aligned (numbers).
    Right,
}

/// A table column: a header and, per row, forms of the cell (longest first).
#[derive(Debug, Clone)]
pub struct Column {
    /// Header forms, longest first.
    pub header: Vec<String>,
    /// Rows: each a list of forms, longest first, and a style.
    pub cells: Vec<(Vec<String>, Style)>,
    /// Higher stays longer.
    pub priority: u8,
    /// How important each form is to keep over the next shorter one
    /// (missing: as important as the column), so that a column can give up
    /// its long forms before a less important column leaves.
    pub keep: Vec<u8>,
    /// Alignment.
    pub align: Align,
}

impl Column {
    /// A column with one header.
    pub fn new(header: &str, priority: u8, align: Align) -> Self {
        Column {
            header: vec![header.to_owned()],
            cells: Vec::new(),
            priority,
            keep: Vec::new(),
            align,
        }
    }

    /// Keeps its forms, longest first, only as long as these priorities
    /// hold out (see [`Column::keep`]).
    pub fn keeping(mut self, keep: &[u8]) -> Self {
        self.keep = keep.to_vec();
        self
    }

    /// Also accepts a shorter header.
    pub fn or_header(mut self, short: &str) -> Self {
        self.header.push(short.to_owned());
        self
    }

    /// Adds a row's cell.
    pub fn cell(&mut self, forms: Vec<String>, style: Style) {
        self.cells.push((forms, style));
    }

    fn width(&self, form: usize) -> usize {
        let head = self
            .header
            .get(form.min(self.header.len() - 1))
            .map_or(0, |h| h.width());
        self.cells
            .iter()
            .map(|(forms, _)| {
                forms
                    .get(form.min(forms.len().saturating_sub(1)))
                    .map_or(0, |f| f.width())
            })
            .chain(std::iter::once(head))
            .max()
            .unwrap_or(0)
    }

    fn forms(&self) -> usize {
        self.cells
            .iter()
            .map(|(f, _)| f.len())
            .chain(std::iter::once(self.header.len()))
            .max()
            .unwrap_or(1)
    }
}

/// A laid-out table: header line and row lines, each whole.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The header.
    pub header: Line<'static>,
    /// One line per row.
    pub rows: Vec<Line<'static>>,
    /// Columns that did not fit, by header.
    pub dropped: Vec<String>,
}

/// Lays out `columns` in `width` columns of text, one space between
/// columns: shorter forms for the least important columns first, then fewer
/// columns. Every cell shown is whole.
pub fn table(columns: Vec<Column>, width: u16, header_style: Style) -> Table {
    let width = usize::from(width);
    let n = columns.len();
    let priorities: Vec<u8> = columns.iter().map(|c| c.priority).collect();
    let counts: Vec<usize> = columns.iter().map(Column::forms).collect();
    // Widths once, not once per step of giving way.
    let col_widths: Vec<Vec<usize>> = columns
        .iter()
        .zip(&counts)
        .map(|(c, &forms)| (0..forms).map(|f| c.width(f)).collect())
        .collect();
    let keep: Vec<Vec<u8>> = columns.iter().map(|c| c.keep.clone()).collect();
    let (form, shown) = give_way(&priorities, &keep, &counts, width, |form, shown| {
        let cols = (0..n).filter(|&i| shown[i]);
        let count = cols.clone().count();
        cols.map(|i| col_widths[i][form[i]]).sum::<usize>() + count.saturating_sub(1)
    });
    let widths: Vec<usize> = (0..n).map(|i| col_widths[i][form[i]]).collect();
    let pad = |text: &str, w: usize, align: Align| -> String {
        let room = w.saturating_sub(text.width());
        match align {
            Align::Left => format!("{text}{}", " ".repeat(room)),
            Align::Right => format!("{}{text}", " ".repeat(room)),
        }
    };
    let rows = columns.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    let mut header = Vec::new();
    let mut lines: Vec<Vec<Span<'static>>> = vec![Vec::new(); rows];
    let mut first = true;
    let mut dropped = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        if !shown[i] {
            dropped.push(c.header[0].clone());
            continue;
        }
        let sep = if first { "" } else { " " };
        first = false;
        let h = &c.header[form[i].min(c.header.len() - 1)];
        header.push(Span::styled(
            format!("{sep}{}", pad(h, widths[i], c.align)),
            header_style,
        ));
        for (r, line) in lines.iter_mut().enumerate() {
            let (text, style) = c
                .cells
                .get(r)
                .map(|(forms, style)| {
                    (
                        forms
                            .get(form[i].min(forms.len().saturating_sub(1)))
                            .cloned()
                            .unwrap_or_default(),
                        *style,
                    )
                })
                .unwrap_or_default();
            line.push(Span::raw(sep.to_owned()));
            line.push(Span::styled(pad(&text, widths[i], c.align), style));
        }
    }
    Table {
        header: Line::from(header),
        rows: lines.into_iter().map(Line::from).collect(),
        dropped,
    }
}

/// The width a line takes.
pub fn width(line: &Line<'_>) -> usize {
    line.spans.iter().map(|s| s.content.width()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn pieces_shorten_then_leave_least_important_first() {
        let s = Style::new();
        let build = || {
            vec![
                Piece::kv("head ", s, &number(6_257_000), s, MUST),
                Piece::kv("tail ", s, &number(6_256_990), s, 50).after("  "),
            ]
        };
        assert_eq!(text(&line(build(), 40)), "head 6257000  tail 6256990");
        assert_eq!(text(&line(build(), 24)), "head 6257000  tail 6.26M");
        assert_eq!(text(&line(build(), 12)), "head 6257000");
        assert_eq!(text(&line(build(), 10)), "head 6.26M");
        // A value never loses its label; what must stay and cannot is not
        // shown at all.
        assert_eq!(text(&line(build(), 8)), "");
    }

    #[test]
    fn table_columns_shorten_then_drop_and_cells_stay_whole() {
        let s = Style::new();
        let mut role = Column::new("role", MUST, Align::Left);
        role.cell(vec!["producer".into()], s);
        let mut frames = Column::new("frames", 50, Align::Right).or_header("fr");
        frames.cell(number(1_736_000), s);
        let mut wait = Column::new("wait×batch", 10, Align::Left).or_header("wait");
        wait.cell(vec!["spin ×32".into()], s);
        let t = table(vec![role.clone(), frames.clone(), wait.clone()], 80, s);
        assert_eq!(text(&t.rows[0]), "producer 1736000 spin ×32  ");
        let t = table(vec![role.clone(), frames.clone(), wait.clone()], 20, s);
        assert_eq!(text(&t.rows[0]), "producer 1736000");
        assert_eq!(t.dropped, vec!["wait×batch".to_string()]);
        let t = table(vec![role, frames, wait], 14, s);
        assert_eq!(text(&t.rows[0]), "producer 1.74M");
    }

    #[test]
    fn a_column_gives_up_its_long_forms_before_a_less_important_column_leaves() {
        let s = Style::new();
        let build = |keep: &[u8]| {
            let mut name = Column::new("name", MUST, Align::Left).keeping(keep);
            name.cell(
                vec!["/forge_camera_front_left".into(), "/forge_ca…t_left".into()],
                s,
            );
            let mut frames = Column::new("fr/s", 100, Align::Right);
            frames.cell(number(1_000), s);
            table(vec![name, frames], 24, s)
        };
        // As important as the column: the name stays long, frames/s leaves.
        assert_eq!(text(&build(&[]).rows[0]), "/forge_camera_front_left");
        // Its long form matters less than frames/s: it shortens instead.
        assert_eq!(text(&build(&[50]).rows[0]), "/forge_ca…t_left 1000");
    }
}
