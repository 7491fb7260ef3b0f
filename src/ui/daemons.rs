//! The daemons panel: producer and consumer side by side with what the
//! header says (pid, core, session, heartbeat, counters) and what the kernel
//! says (alive, allowed cores, the core it last ran on), then forge-top's
//! own cost.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use crate::app::App;
use crate::model::human;
use crate::model::{Coded, Role, RoleState, Sample, Side};

use super::{block, theme};

fn status(side: Side<'_>) -> Cell<'static> {
    let (text, style) = match (side.line.role_state, side.holder.alive) {
        (Coded::Known(RoleState::Vacant), _) => ("vacant".to_string(), theme::label()),
        (Coded::Known(RoleState::Active), Some(true)) if side.line.sleeping => {
            ("● parked".into(), theme::good())
        }
        (Coded::Known(RoleState::Active), Some(true)) => ("● alive".into(), theme::good()),
        (Coded::Known(RoleState::Active), _) => ("✗ DEAD".into(), theme::bad()),
        (Coded::Known(RoleState::Stopped), _) => ("stopped".into(), theme::warn()),
        (Coded::Unknown(c), _) => (format!("role {c}?"), theme::bad()),
    };
    Cell::from(Span::styled(text, style))
}

fn core(side: Side<'_>) -> Cell<'static> {
    let header = side.line.core.map_or("-".into(), |c| c.to_string());
    let Some(p) = &side.holder.proc else {
        return Cell::from(header);
    };
    let on = p.last_cpu.map_or("?".into(), |c| c.to_string());
    // The header's core should be the only one the kernel allows.
    let consistent = side
        .line
        .core
        .is_none_or(|c| p.cpus_allowed.trim() == c.to_string());
    let style = if consistent {
        theme::value()
    } else {
        theme::warn()
    };
    Cell::from(Line::from(vec![
        Span::styled(header, style),
        Span::styled(format!(" {} ", p.cpus_allowed), theme::label()),
        Span::styled(format!("@{on}"), theme::value()),
    ]))
}

fn session(side: Side<'_>, s: &Sample) -> Cell<'static> {
    let attached = side.line.session;
    if attached == 0 {
        return Cell::from(Span::styled("-", theme::label()));
    }
    if attached == s.session_id() {
        Cell::from(Span::styled("= segment", theme::good()))
    } else {
        Cell::from(Span::styled(
            format!("≠ {:08x}", attached >> 32),
            theme::bad(),
        ))
    }
}

fn beat(side: Side<'_>, stale_ns: u64) -> Cell<'static> {
    match side.holder.heartbeat_age_ns {
        None => Cell::from(Span::styled("never", theme::label())),
        Some(age) => {
            let style = if side.line.role_state == RoleState::Active && age > stale_ns {
                theme::bad()
            } else {
                theme::value()
            };
            Cell::from(Span::styled(human::duration_ns(age), style))
        }
    }
}

fn row(side: Side<'_>, s: &Sample, app: &App) -> Row<'static> {
    let pressure = match side.role {
        Role::Producer => "full ",
        Role::Consumer => "empty ",
    };
    let line = side.line;
    Row::new(vec![
        Cell::from(Span::styled(
            side.role.name(),
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Cell::from(if line.pid == 0 {
            "-".into()
        } else {
            line.pid.to_string()
        }),
        status(side),
        core(side),
        beat(side, app.config.thresholds.stale_ns),
        session(side, s),
        Cell::from(format!("{} ×{}", line.wait_strategy, line.batch)),
        Cell::from(human::si(line.messages as f64)),
        Cell::from(Line::from(vec![
            Span::styled(pressure, theme::label()),
            Span::raw(human::si(line.backpressure as f64)),
        ])),
        Cell::from(side.holder.uptime_ns.map_or("-".into(), human::duration_ns)),
    ])
}

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let Some(s) = &view.sample else {
        frame.render_widget(block("Daemons", app), area);
        return;
    };
    let header = Row::new(vec![
        "role",
        "pid",
        "status",
        "core hdr/allowed@on",
        "heartbeat",
        "session",
        "wait×batch",
        "frames",
        "backpressure",
        "uptime",
    ])
    .style(theme::label());
    let me = &view.me;
    let shared = Role::ALL
        .into_iter()
        .map(|r| s.side(r))
        .any(|d| d.line.core.is_some() && d.line.core == me.cpu && d.holder.alive == Some(true));
    let me_row = Row::new(vec![
        Cell::from(Span::styled("forge-top", Style::new().fg(Color::Cyan))),
        Cell::from(me.pid.to_string()),
        Cell::from(Span::styled("read-only", Style::new().fg(Color::Blue))),
        Cell::from(Span::styled(
            format!("- @{}", me.cpu.map_or("?".into(), |c| c.to_string())),
            if shared {
                theme::warn()
            } else {
                theme::value()
            },
        )),
        Cell::from(format!("{:.1}% cpu", view.me_cpu_pct)),
        Cell::from(format!("rss {:.1}M", me.rss_kib as f64 / 1024.0)),
        Cell::from(format!("{} ms", app.refresh.as_millis())),
        Cell::from(format!("{}", app.samples)),
        Cell::from(Span::styled("samples", theme::label())),
        Cell::from(""),
    ]);
    let table = Table::new(
        vec![
            row(s.side(Role::Producer), s, app),
            row(s.side(Role::Consumer), s, app),
            me_row,
        ],
        [
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(19),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Min(6),
        ],
    )
    .header(header)
    .block(block("Daemons", app));
    frame.render_widget(table, area);
}
