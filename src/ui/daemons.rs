//! The daemons panel: producer and consumer as rows with what the header
//! says (pid, core, session, heartbeat, counters) and what the kernel says
//! (holds the role, allowed cores, the core it last ran on); then
//! forge-top's own line, in words of its own.
//!
//! Columns give way by priority (see [`super::fit::table`]): role, pid and
//! status stay; the program name and the holder note go first.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use super::draw::block;
use super::fit::{self, number, Align, Column, Piece, MUST};
use super::theme::{liveness_badge, Theme};
use crate::app::App;
use crate::model::{human, Coded, Liveness, Role, RoleState, Sample, Side, HOLDER_RELAYED};

/// How long a restart is mentioned in the status column, ns.
const RESTART_SHOWN_NS: u64 = 60_000_000_000;

/// The status cell: liveness from facts, its forms, and its style.
fn status(side: Side<'_>, app: &App, t: &Theme) -> (Vec<String>, Style) {
    if let Coded::Unknown(code) = side.line.role_state {
        return (
            vec![format!("role state {code}?"), format!("{code}?")],
            t.bad,
        );
    }
    let (glyph, word, style) = liveness_badge(side, t);
    let forms = match side.holder.liveness {
        Liveness::Running => {
            let restarted = app.alarms.restarted[side.role.index()]
                .filter(|r| app.live.unix_ns.saturating_sub(r.at_unix_ns) < RESTART_SHOWN_NS);
            match restarted.map(|r| r.was) {
                Some(old) => vec![
                    format!("{word}, restarted (was pid {old})"),
                    format!("{word}, restarted"),
                    word,
                ],
                None => vec![word],
            }
        }
        // Narrow forms: the word alone, or the glyph alone.
        Liveness::Stopped => vec![word, side.state_word().to_owned()],
        Liveness::Unknown => vec![word, glyph.to_owned()],
        _ => vec![word],
    };
    (forms, style)
}

/// What the kernel says the holder is doing (`/proc/PID/status` State),
/// when the holder is proven to be here.
fn proc_state(side: Side<'_>, t: &Theme) -> (Vec<String>, Style) {
    let Some(letter) = side.holder.proc.as_ref().map(|p| p.state.as_str()) else {
        return (vec!["-".into()], t.label);
    };
    let word = match letter {
        "R" => "running",
        "S" => "sleeping",
        "D" => "disk wait",
        "T" => "stopped",
        "t" => "traced",
        "Z" => "zombie",
        "X" => "dead",
        "I" => "idle",
        _ => "",
    };
    let style = if matches!(letter, "T" | "t" | "Z" | "X") {
        t.bad
    } else {
        t.value
    };
    let mut forms = Vec::new();
    if !word.is_empty() {
        forms.push(format!("{letter} ({word})"));
    }
    forms.push(letter.to_owned());
    (forms, style)
}

/// The pid cell: a pid this forge-top cannot prove is the holder (another
/// pid namespace, a recycled pid) is marked so, never shown as plain.
fn pid(side: Side<'_>) -> Vec<String> {
    let pid = side.line.pid;
    if pid == 0 {
        return vec!["-".into()];
    }
    if side.holder.verified || side.holder.alive != Some(true) {
        vec![pid.to_string()]
    } else {
        vec![format!("{pid} (elsewhere)"), format!("{pid}?")]
    }
}

/// The core cell: the core the header says the holder pinned to, the cores
/// the kernel allows it, and the one it last ran on.
fn core(side: Side<'_>, t: &Theme) -> (Vec<String>, Style) {
    let pinned = side.line.core.map_or("-".into(), |c| c.to_string());
    let Some(p) = &side.holder.proc else {
        return (vec![pinned], t.value);
    };
    let on = p.last_cpu.map_or("?".into(), |c| c.to_string());
    // The header's core should be the only one the kernel allows.
    let consistent = side
        .line
        .core
        .is_none_or(|c| p.cpus_allowed.trim() == c.to_string());
    let style = if consistent { t.value } else { t.warn };
    (
        vec![
            format!("{pinned} / {} @{on}", p.cpus_allowed),
            format!("{pinned} @{on}"),
            pinned,
        ],
        style,
    )
}

fn session(side: Side<'_>, s: &Sample, t: &Theme) -> (Vec<String>, Style) {
    let attached = side.line.session;
    if attached == 0 {
        (vec!["-".into()], t.label)
    } else if attached == s.session_id() {
        (vec!["= segment".into(), "=".into()], t.good)
    } else {
        (
            vec![format!("≠ {}", human::session(attached)), "≠".into()],
            t.bad,
        )
    }
}

fn heartbeat(side: Side<'_>, recorded: bool, t: &Theme) -> (Vec<String>, Style) {
    if recorded {
        return (vec!["not recorded".into(), "n/r".into()], t.label);
    }
    match side.holder.heartbeat_age_ns {
        None => (vec!["never".into()], t.label),
        Some(age) => {
            let style = if side.holder.liveness == Liveness::Stalled {
                t.bad
            } else if side.line.role_state != RoleState::Active {
                t.label
            } else {
                t.value
            };
            (
                vec![
                    format!("{} ago", human::duration_ns(age)),
                    human::duration_ns(age),
                ],
                style,
            )
        }
    }
}

/// The table's columns, one row per role.
fn columns(s: &Sample, app: &App, t: &Theme) -> Vec<Column> {
    let mut role = Column::new("role", MUST, Align::Left);
    let mut pid_c = Column::new("pid", 90, Align::Right);
    let mut status_c = Column::new("status", MUST, Align::Left);
    let mut beat = Column::new("heartbeat", 80, Align::Right).or_header("beat");
    let mut session_c = Column::new("session", 70, Align::Left).or_header("sess");
    let mut kernel = Column::new("/proc", 45, Align::Left);
    let mut core_c = Column::new("core pin / allowed @on", 60, Align::Left).or_header("core");
    let mut frames = Column::new("frames", 50, Align::Right);
    let mut pressure = Column::new("full/empty", 40, Align::Right).or_header("f/e");
    let mut uptime = Column::new("uptime", 30, Align::Right).or_header("up");
    let mut wait = Column::new("wait×batch", 25, Align::Left).or_header("wait");
    let mut program = Column::new("program", 20, Align::Left);
    let mut note = Column::new("holder", 10, Align::Left);
    for r in Role::ALL {
        let side = s.side(r);
        role.cell(vec![r.name().into()], t.value);
        pid_c.cell(pid(side), t.value);
        let (f, st) = status(side, app, t);
        status_c.cell(f, st);
        let (f, st) = heartbeat(side, s.recorded, t);
        beat.cell(f, st);
        let (f, st) = session(side, s, t);
        session_c.cell(f, st);
        let (f, st) = proc_state(side, t);
        kernel.cell(f, st);
        let (f, st) = core(side, t);
        core_c.cell(f, st);
        frames.cell(number(side.line.messages), t.value);
        pressure.cell(number(side.line.backpressure), t.value);
        uptime.cell(
            vec![side.holder.uptime_ns.map_or("-".into(), human::duration_ns)],
            t.value,
        );
        let forms = match side.wait() {
            Some(both) => vec![both, side.line.wait_strategy.to_string()],
            None => vec!["-".into()],
        };
        wait.cell(forms, t.value);
        let name = if side.line.program.is_empty() {
            "-".to_owned()
        } else {
            side.line.program.clone()
        };
        // A relaying producer (a bridge) says whose frames it writes.
        let relayed = side.role == Role::Producer
            && (side.line.flags & HOLDER_RELAYED != 0 || side.line.relay_session != 0);
        let forms = if relayed && side.line.relay_session != 0 {
            vec![
                format!("{name}, relays {}", human::session(side.line.relay_session)),
                format!("{name}, relays"),
                name,
            ]
        } else if relayed {
            vec![format!("{name}, relays"), name]
        } else {
            vec![name]
        };
        program.cell(forms, t.value);
        note.cell(
            vec![side.holder.holder_note.clone().unwrap_or_default()],
            t.warn,
        );
    }
    let mut columns = vec![
        role, pid_c, status_c, beat, session_c, kernel, core_c, frames, pressure, uptime, wait,
        program,
    ];
    if note
        .cells
        .iter()
        .any(|(forms, _)| forms.iter().any(|f| !f.is_empty()))
    {
        columns.push(note);
    }
    columns
}

/// forge-top's own line: what it costs and where it runs.
fn me_line(s: &Sample, app: &App, t: &Theme, width: u16) -> ratatui::text::Line<'static> {
    let view = app.view();
    let me = &view.me;
    // Offline, the daemons' cores are another moment's, maybe another host's.
    let shared = view.offline.is_none()
        && Role::ALL.into_iter().map(|r| s.side(r)).any(|d| {
            d.line.core.is_some() && d.line.core == me.cpu && d.holder.alive == Some(true)
        });
    let (l, v) = (t.label, t.value);
    let on = me.cpu.map_or("?".into(), |c| c.to_string());
    fit::line(
        vec![
            Piece::fixed("forge-top", t.accent, MUST),
            Piece::kv("pid ", l, &[me.pid.to_string()], v, 40).after("  "),
            Piece::text(["read-only".into()], t.accent, 60).after("  "),
            Piece::kv("cpu ", l, &[format!("{:.1}%", view.me_cpu_pct)], v, 90).after("  "),
            Piece::kv("rss ", l, &[human::bytes(me.rss_kib * 1024)], v, 80).after("  "),
            Piece::text(
                [
                    format!(
                        "on core {on}{}",
                        if shared {
                            " (shared with a daemon)"
                        } else {
                            ""
                        }
                    ),
                    format!("core {on}"),
                ],
                if shared { t.warn } else { v },
                50,
            )
            .after("  "),
            Piece::kv(
                "every ",
                l,
                &[format!("{} ms", app.refresh.as_millis())],
                v,
                70,
            )
            .after("  "),
            Piece::kv("", l, &[format!("{} samples", app.samples)], l, 20).after("  "),
        ],
        width,
    )
}

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let outer = block(&["Daemons".into()], app, t, area.width, false);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let Some(s) = &view.sample else { return };
    let table = fit::table(columns(s, app, t), inner.width, t.label);
    let mut lines = vec![table.header];
    lines.extend(table.rows);
    if inner.height as usize > lines.len() {
        lines.push(me_line(s, app, t, inner.width));
    }
    lines.truncate(usize::from(inner.height));
    super::draw::put_lines(frame, inner, lines);
}
