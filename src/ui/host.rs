//! The host view: every ring of the host in one table, laid out by the
//! same fit-by-priority rules as the ring view (columns shorten, then
//! leave, least important first; nothing is ever cut).
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────────────┐
//! │ title: HOST, rings by state, alarms, READ-ONLY, clock                │ 1
//! │ info: refresh, time of one sample, forge-top's cpu and rss (≥ 22)    │ 1
//! │ banner: the worst alarm of any ring, or all clear                    │ 1
//! ├ Rings · sorted by … · filter … ──────────────────────────────────────┤
//! │ ▶ name session state producer consumer frames/s trend bytes/s fill  │ rest
//! │   p99 alarm (columns by priority)                                    │
//! ├ Alarms & events (≥ 30 rows, or Tab to it) ───────────────────────────┤
//! │ status: the filter prompt, a message, or the keys that fit           │ 1
//! └──────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::draw::{block, put_lines};
use super::fit::{self, number, Align, Column, Piece, MUST};
use super::theme::{liveness_badge, Theme};
use crate::alarms::Severity;
use crate::app::host::StateKind;
use crate::app::layout::{host_screen, one_line, words, HostFocus};
use crate::app::{App, HostColumn, HostRing, HostView};
use crate::model::{human, RingStatus, Role};

/// Draws the whole host screen.
pub fn render(frame: &mut Frame, app: &App, t: &Theme) {
    let Some(h) = &app.host else { return };
    let a = host_screen((frame.area().width, frame.area().height), h.focus);
    if a.too_small {
        super::draw::too_small(frame, t);
        return;
    }
    title(frame, a.title, h, t);
    if a.info.height > 0 {
        info(frame, a.info, h, t);
    }
    banner(frame, a.banner, h, a.events.height > 0, t);
    super::status::render(frame, a.status, app, t);
    if app.help {
        super::help::render(frame, a.body(), app, t);
        return;
    }
    table(frame, a.table, app, h, t);
    if a.events.height > 0 {
        super::events::render_host(frame, a.events, app, h, t);
    }
}

fn badge(text: &str, style: Style, priority: u8) -> Piece {
    Piece::fixed(format!(" {text} "), style, priority).after(" ")
}

fn title(frame: &mut Frame, area: Rect, h: &HostView, t: &Theme) {
    let mut pieces = vec![
        Piece::fixed(" forge-top ", t.badge_app, MUST),
        badge("HOST", t.badge_info, MUST),
    ];
    let n = h.rings.len();
    let counts: Vec<String> = h
        .counts()
        .into_iter()
        .map(|(code, k)| format!("{k} {code}"))
        .collect();
    let rings = format!("{n} ring{}", if n == 1 { "" } else { "s" });
    let forms = if counts.is_empty() {
        vec![rings]
    } else {
        vec![format!("{rings}: {}", counts.join(", ")), rings]
    };
    pieces.push(Piece::text(forms, t.value, 200).after(" "));
    let alarms = h.alarms().len();
    if alarms > 0 {
        let worst = h
            .alarms()
            .first()
            .map_or(Severity::Warning, |(_, a)| a.severity);
        pieces.push(badge(
            &format!("{alarms} ALARM{}", if alarms == 1 { "" } else { "S" }),
            t.banner(worst),
            210,
        ));
    }
    if !h.filter.is_empty() {
        pieces.push(
            Piece::text(
                [format!(" FILTER {} ", h.filter), " FILTER ".into()],
                t.badge_frozen,
                190,
            )
            .after(" "),
        );
    }
    pieces.push(badge("READ-ONLY", t.badge_info, 100));
    let clock = format!("{} UTC", human::time_of_day(h.unix_ns));
    let line = fit::line(pieces, area.width);
    let room = usize::from(area.width).saturating_sub(fit::width(&line));
    let line = if room > clock.len() + 1 && h.unix_ns != 0 {
        let mut line = line;
        line.spans.push(Span::raw(" ".repeat(room - clock.len())));
        line.spans.push(Span::styled(clock, t.label));
        line
    } else {
        line
    };
    put_lines(frame, area, [line]);
}

fn info(frame: &mut Frame, area: Rect, h: &HostView, t: &Theme) {
    let (l, v) = (t.label, t.value);
    let mut pieces = vec![
        Piece::kv(
            " every ",
            l,
            &[format!("{} ms", h.refresh.as_millis())],
            v,
            MUST,
        ),
        Piece::kv("one sample ", l, &[human::duration_ns(h.took_ns)], v, 90).after("  "),
        Piece::kv(
            "forge-top cpu ",
            l,
            &[format!("{:.1}%", h.me_cpu_pct)],
            v,
            80,
        )
        .after("  "),
        Piece::kv("rss ", l, &[human::bytes(h.me.rss_kib * 1024)], v, 70).after("  "),
        Piece::kv("pid ", l, &[h.me.pid.to_string()], v, 20).after("  "),
    ];
    if h.not_forge > 0 {
        pieces.push(
            Piece::text(
                [
                    format!("{} other objects in /dev/shm", h.not_forge),
                    format!("{} not Forge", h.not_forge),
                ],
                l,
                30,
            )
            .after("  "),
        );
    }
    pieces.push(Piece::kv("", l, &[format!("{} samples", h.samples)], l, 10).after("  "));
    put_lines(frame, area, [fit::line(pieces, area.width)]);
}

fn banner(frame: &mut Frame, area: Rect, h: &HostView, log_shown: bool, t: &Theme) {
    let alarms = h.alarms();
    let (text, style, fill) = match alarms.first() {
        Some((name, worst)) => {
            let count = if alarms.len() == 1 {
                " ▲ ALARM ".to_string()
            } else {
                format!(" ▲ {} ALARMS ", alarms.len())
            };
            let more = match (alarms.len(), log_shown) {
                (1, _) => String::new(),
                (n, true) => format!("  (+{} more in the event log)", n - 1),
                (n, false) => format!("  (+{} more: Tab shows the event log)", n - 1),
            };
            (
                format!("{count} {name}: {}{more}", worst.text),
                t.banner(worst.severity),
                true,
            )
        }
        None if h.samples == 0 => (" … looking at /dev/shm".to_owned(), t.warn, false),
        None if h.rings.is_empty() => (
            " … no Forge ring on this host yet".to_owned(),
            t.warn,
            false,
        ),
        None => {
            let n = h.rings.len();
            (
                format!(" ✓ no alarms on {n} ring{}", if n == 1 { "" } else { "s" }),
                t.good,
                false,
            )
        }
    };
    let text = one_line(&text, area.width);
    let pad = usize::from(area.width)
        .saturating_sub(unicode_width::UnicodeWidthStr::width(text.as_str()));
    let text = if fill {
        format!("{text}{}", " ".repeat(pad))
    } else {
        text
    };
    put_lines(frame, area, [Line::from(Span::styled(text, style))]);
}

fn table(frame: &mut Frame, area: Rect, app: &App, h: &HostView, t: &Theme) {
    let rows = h.rows();
    let arrow = if h.sort.descends() != h.reversed {
        "▼"
    } else {
        "▲"
    };
    let shown = if h.filter.is_empty() {
        format!("{}", rows.len())
    } else {
        format!("{} of {}", rows.len(), h.rings.len())
    };
    let filter = if h.filter.is_empty() {
        String::new()
    } else {
        format!(" · filter \"{}\"", h.filter)
    };
    let titles = [
        format!(
            "Rings · {shown}{filter} · sorted by {} {arrow} · < > sort, r reverse, / filter, Enter open",
            h.sort.name()
        ),
        format!("Rings · {shown}{filter} · sorted by {} {arrow}", h.sort.name()),
        format!("Rings · {shown} · by {} {arrow}", h.sort.name()),
        format!("Rings · {shown}"),
        "Rings".into(),
    ];
    let outer = block(&titles, app, t, area.width, h.focus == HostFocus::Rings);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    if rows.is_empty() {
        let text = if h.samples == 0 {
            "looking at /dev/shm…".to_owned()
        } else if h.rings.is_empty() {
            format!(
                "No Forge ring in /dev/shm yet; looking every {} ms. To bring one up: \
                 forge-init && (forge-stream & forge-core &), or a private demo ring at \
                 once: forge-top --demo.",
                h.refresh.as_millis(),
            )
        } else {
            format!(
                "No ring holds \"{}\" in its name, state, programs or alarms. Esc clears the filter.",
                h.filter
            )
        };
        let lines: Vec<Line> = words(&text, inner.width)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, t.label)))
            .collect();
        put_lines(frame, inner, lines);
        return;
    }
    let selected = h.selected_index(&rows);
    let table = fit::table(columns(h, &rows, selected, t, false), inner.width, t.label);
    let mut lines = vec![table.header];
    let room = usize::from(inner.height).saturating_sub(1);
    for (i, line) in table.rows.into_iter().enumerate().skip(h.first).take(room) {
        lines.push(if Some(i) == selected {
            t.select(line)
        } else {
            line
        });
    }
    put_lines(frame, inner, lines);
}

/// `name` in at most `max` columns: whole, or its start and its end around
/// an ellipsis (the end tells rings of one family apart).
fn shortened(name: &str, max: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max || max < 5 {
        return name.to_owned();
    }
    let tail = (max - 1) / 2;
    let head = max - 1 - tail;
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}…{end}")
}

/// A role's cell: liveness, pid and program, longest first; and its style.
fn role_cell(r: &HostRing, role: Role, t: &Theme) -> (Vec<String>, Style) {
    let Some(s) = r.sample() else {
        return (vec!["-".into()], t.label);
    };
    let side = s.side(role);
    let (glyph, word, style) = liveness_badge(side, t);
    let pid = side.line.pid;
    if pid == 0 {
        return (
            vec![word.clone(), word.clone(), word, glyph.to_owned()],
            style,
        );
    }
    // A pid this forge-top cannot prove is the holder is marked so.
    let pid = if side.holder.verified || side.holder.alive != Some(true) {
        pid.to_string()
    } else {
        format!("{pid}?")
    };
    let program = side.line.program.as_str();
    let forms = vec![
        if program.is_empty() {
            format!("{word} {pid}")
        } else {
            format!("{word} {pid} {program}")
        },
        format!("{word} {pid}"),
        format!("{glyph} {pid}"),
        glyph.to_owned(),
    ];
    (forms, style)
}

/// Frames/s as eight-level bars, newest on the right, scaled to the
/// ring's own peak over what is shown; a quiet ring draws nothing.
fn spark(history: &std::collections::VecDeque<u64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let shown: Vec<u64> = history.iter().rev().take(width).rev().copied().collect();
    let max = shown.iter().copied().max().unwrap_or(0);
    let mut out = " ".repeat(width - shown.len());
    for v in shown {
        out.push(if v == 0 || max == 0 {
            ' '
        } else {
            BARS[(u128::from(v) * 7 / u128::from(max)).min(7) as usize]
        });
    }
    out
}

/// The table's columns over `rows`, highest priority staying longest. With
/// `text` (for `--once`), the selection mark and the sparkline are left out.
pub fn columns(
    h: &HostView,
    rows: &[&HostRing],
    selected: Option<usize>,
    t: &Theme,
    text: bool,
) -> Vec<Column> {
    let head = |c: HostColumn, short: &[&str]| -> Vec<String> {
        let arrow = if c != h.sort {
            ""
        } else if c.descends() != h.reversed {
            " ▼"
        } else {
            " ▲"
        };
        std::iter::once(c.name())
            .chain(short.iter().copied())
            .map(|n| format!("{n}{arrow}"))
            .collect()
    };
    // The column the table is sorted by stays as long as the state does.
    let col = |c: HostColumn, short: &[&str], priority: u8, align: Align| Column {
        header: head(c, short),
        cells: Vec::new(),
        priority: if c == h.sort {
            priority.max(175)
        } else {
            priority
        },
        keep: Vec::new(),
        align,
    };
    // Priorities: what leaves first (session, then the alarm's sentence,
    // the trend, p99, bytes/s…) and, per column, how long its long forms
    // hold out: a long name, a program name or a long state word gives way
    // before the consumer or frames/s leave the table.
    let mut mark = Column::new(" ", MUST, Align::Left);
    let mut name = col(HostColumn::Name, &[], MUST, Align::Left).keeping(&[110, 124, 128]);
    let mut session = col(HostColumn::Session, &["sess"], 30, Align::Left);
    let mut state = col(HostColumn::State, &[], 170, Align::Left).keeping(&[115]);
    let mut producer =
        col(HostColumn::Producer, &["prod"], 150, Align::Left).keeping(&[100, 127, 145]);
    let mut consumer =
        col(HostColumn::Consumer, &["cons"], 140, Align::Left).keeping(&[99, 126, 135]);
    let mut frames = col(HostColumn::Frames, &["fr/s"], 130, Align::Right);
    let mut trend = Column::new("trend", 60, Align::Left).or_header("");
    let mut bytes = col(HostColumn::Bytes, &["B/s"], 80, Align::Right);
    let mut fill = col(HostColumn::Fill, &[], 120, Align::Right).keeping(&[118]);
    let mut p99 = col(HostColumn::Latency, &[], 70, Align::Right);
    let mut alarm = col(HostColumn::Alarm, &[], 190, Align::Left).keeping(&[150, 160]);
    // The alarm's sentence: where the width allows (the banner and the
    // event log say it too).
    let mut detail = Column::new("detail", 45, Align::Left);
    for (i, r) in rows.iter().enumerate() {
        mark.cell(
            vec![if Some(i) == selected { "▶" } else { " " }.into()],
            t.accent,
        );
        name.cell(
            [usize::MAX, 32, 24, 16]
                .into_iter()
                .map(|max| shortened(&r.name, max))
                .collect(),
            t.value,
        );
        match r.session() {
            Some(id) => {
                let hex = human::session(id);
                session.cell(vec![hex.clone(), format!("{}…", &hex[..8])], t.label);
            }
            None => session.cell(vec!["-".into()], t.label),
        }
        let (words, kind) = r.state_words();
        let style = match kind {
            StateKind::Live => t.good,
            StateKind::Passing | StateKind::Refused => t.warn,
            StateKind::Bad => t.bad,
        };
        state.cell(words, style);
        let (f, s) = role_cell(r, Role::Producer, t);
        producer.cell(f, s);
        let (f, s) = role_cell(r, Role::Consumer, t);
        consumer.cell(f, s);
        if matches!(r.status, RingStatus::Sampled(_)) {
            frames.cell(number(r.rates.frames_per_s.round() as u64), t.value);
            bytes.cell(vec![human::bytes_rate(r.rates.bytes_per_s)], t.value);
        } else {
            frames.cell(vec!["-".into()], t.label);
            bytes.cell(vec!["-".into()], t.label);
        }
        trend.cell(vec![spark(&r.history, 12), spark(&r.history, 6)], t.spark);
        match r.fill() {
            Some(f) => {
                let style = if f >= 1.0 {
                    t.bad
                } else if f >= 0.75 {
                    t.warn
                } else {
                    t.value
                };
                let pct = f * 100.0;
                fill.cell(vec![format!("{pct:.1}%"), format!("{pct:.0}%")], style);
            }
            None => fill.cell(vec!["-".into()], t.label),
        }
        match (r.sample(), r.p99_ns()) {
            (Some(s), Some(ns)) => p99.cell(vec![s.latency_recent.show(Some(ns))], t.value),
            _ => p99.cell(vec!["-".into()], t.label),
        }
        match r.worst() {
            Some(a) => {
                let more = match r.alarms.active.len() {
                    1 => String::new(),
                    n => format!(" +{}", n - 1),
                };
                alarm.cell(
                    vec![
                        format!("▲ {}{more}", a.key.short()),
                        format!("▲ {}", a.key.short()),
                        "▲".into(),
                    ],
                    t.severity(a.severity),
                );
                detail.cell(vec![a.text.clone()], t.severity(a.severity));
            }
            None => {
                alarm.cell(vec![String::new()], t.label);
                detail.cell(vec![String::new()], t.label);
            }
        }
    }
    let mut out = Vec::new();
    if !text {
        out.push(mark);
    }
    out.extend([name, session, state, producer, consumer, frames]);
    if !text {
        out.push(trend);
    }
    out.extend([bytes, fill, p99, alarm, detail]);
    out
}

/// The table as plain text for scripts (`--all --once`): the same columns,
/// every one in its longest form, one ring a line.
pub fn text(h: &HostView) -> String {
    let rows = h.rows();
    if rows.is_empty() {
        return if h.rings.is_empty() {
            "no Forge ring in /dev/shm\n".into()
        } else {
            format!("no ring holds {:?}\n", h.filter)
        };
    }
    let t = Theme::default();
    let table = fit::table(columns(h, &rows, None, &t, true), u16::MAX, t.label);
    let mut out = String::new();
    for line in std::iter::once(table.header).chain(table.rows) {
        let s: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        out.push_str(s.trim_end());
        out.push('\n');
    }
    out
}
