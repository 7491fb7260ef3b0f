//! The title line (name, state, mode badges, clock) and the info line
//! (session, age, path, size, layout, geometry), each laid out by priority.

use ratatui::layout::Rect;
use ratatui::Frame;

use super::fit::{self, Piece, MUST};
use super::theme::Theme;
use crate::app::App;
use crate::model::{human, Coded, Link, OfflineKind, SegmentState};

fn badge(text: &str, style: ratatui::style::Style, priority: u8) -> Piece {
    Piece::fixed(format!(" {text} "), style, priority).after(" ")
}

/// The title line.
pub fn render_title(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let mut pieces = vec![Piece::fixed(" forge-top ", t.badge_app, MUST)];
    if let Some(o) = &view.offline {
        // Offline as plainly as live: the badge, the file, where the cursor is.
        let name = std::path::Path::new(&o.path)
            .file_name()
            .map_or(o.path.clone(), |n| n.to_string_lossy().into_owned());
        let kind = match o.kind {
            OfflineKind::Recording => "RECORDING",
            OfflineKind::Image => "IMAGE",
        };
        pieces.push(
            Piece::text(
                [format!(" OFFLINE {kind} "), " OFFLINE ".to_owned()],
                t.badge_frozen,
                MUST,
            )
            .after(" "),
        );
        pieces.push(Piece::text([name], t.value, 210).after(" "));
        if o.kind == OfflineKind::Recording {
            let state = if o.playing {
                format!("▶ {}x", o.speed)
            } else {
                "❚❚".to_owned()
            };
            pieces.push(
                Piece::text(
                    [
                        format!("frame {} of {}", o.frame + 1, o.frames),
                        format!(
                            "{} / {}",
                            human::si((o.frame + 1) as f64),
                            human::si(o.frames as f64)
                        ),
                    ],
                    t.value,
                    180,
                )
                .after("  "),
            );
            pieces.push(Piece::text([state], t.accent, 170).after("  "));
            if o.session.1 > 1 {
                pieces.push(
                    Piece::text(
                        [format!("session {} of {}", o.session.0 + 1, o.session.1)],
                        t.label,
                        60,
                    )
                    .after("  "),
                );
            }
            if o.missed > 0 {
                pieces.push(
                    Piece::text(
                        [
                            format!("{} frames not recorded", human::count(o.missed)),
                            format!("{} not recorded", human::si(o.missed as f64)),
                        ],
                        t.warn,
                        150,
                    )
                    .after("  "),
                );
            }
        }
    } else {
        pieces.push(Piece::fixed(app.config.segment.clone(), t.value, MUST).after(" "));
    }
    // The segment's state only while attached: a lost view's last state
    // may no longer hold.
    if let Some(s) = view
        .sample
        .as_ref()
        .filter(|_| view.link == Link::Attached && view.offline.is_none())
    {
        let state = s.state();
        if app.alarms.unlinked() {
            // The header may still say live: the name is gone all the same.
            pieces.push(badge("REMOVED", t.badge_bad, 200));
        }
        let style = match state {
            Coded::Known(SegmentState::Live) => t.badge_good,
            Coded::Known(SegmentState::Initializing) => t.badge_warn,
            Coded::Known(SegmentState::Retired) | Coded::Unknown(_) => t.badge_bad,
        };
        let text = match state {
            Coded::Known(known) => known.name().to_uppercase(),
            Coded::Unknown(code) => format!("STATE {code}?"),
        };
        if !app.alarms.unlinked() {
            pieces.push(badge(&text, style, 200));
        }
    }
    match view.link {
        Link::Attached => {}
        Link::Waiting => pieces.push(badge("WAITING", t.badge_warn, 200)),
        Link::Lost => pieces.push(
            Piece::text(
                [" LOST: LAST GOOD VIEW ".to_owned(), " LOST ".to_owned()],
                t.badge_bad,
                200,
            )
            .after(" "),
        ),
    }
    if let Some(f) = &app.frozen {
        // The panels are live; the badge says how old the slots' copy is.
        let forms = match &f.image {
            Some(img) => [
                format!(
                    " SLOTS FROZEN {} ago ",
                    human::duration_ns(app.live.unix_ns.saturating_sub(img.unix_ns))
                ),
                " FROZEN ".to_owned(),
            ],
            None => [" FREEZING… ".to_owned(), " FROZEN ".to_owned()],
        };
        pieces.push(Piece::text(forms, t.badge_frozen, 190).after(" "));
    } else if app.follow && !app.alarms.unlinked() {
        pieces.push(badge("FOLLOW", t.badge_quiet, 120));
    }
    if app.config.demo && view.offline.is_none() {
        pieces.push(badge("DEMO", t.badge_quiet, 110));
    }
    pieces.push(badge("READ-ONLY", t.badge_info, 100));
    let clock = format!("{} UTC", human::time_of_day(view.unix_ns));
    let line = fit::line(pieces.clone(), area.width);
    // The clock goes right, if what must be said leaves room for it.
    let used = fit::width(&line);
    let room = usize::from(area.width).saturating_sub(used);
    let line = if room > clock.len() + 1 && view.unix_ns != 0 {
        let mut line = line;
        line.spans
            .push(ratatui::text::Span::raw(" ".repeat(room - clock.len())));
        line.spans.push(ratatui::text::Span::styled(clock, t.label));
        line
    } else {
        line
    };
    super::draw::put_lines(frame, area, [line]);
}

/// The info line.
pub fn render_info(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let (l, v) = (t.label, t.value);
    let pieces = match &view.sample {
        Some(s) => {
            let id = &s.header.identity;
            vec![
                Piece::kv(" session ", l, &[human::session(s.session_id())], v, MUST),
                Piece::kv("age ", l, &[human::duration_ns(s.age_ns)], v, 90).after("  "),
                Piece::fixed(s.path.clone(), v, 40).after("  "),
                Piece::text([human::bytes(s.header.file_size)], v, 30).after("  "),
                Piece::kv("layout ", l, &[format!("v{}", id.layout_version)], v, 50).after("  "),
                Piece::text(
                    [
                        format!("{} × {} B slots", s.slot_count(), id.slot_size),
                        format!("{} slots", s.slot_count()),
                    ],
                    v,
                    80,
                )
                .after("  "),
                Piece::kv(
                    "payload ",
                    l,
                    &[format!("{} B", id.payload_capacity)],
                    v,
                    20,
                )
                .after(", "),
                Piece::kv("init pid ", l, &[id.init_pid.to_string()], v, 10).after("  "),
                Piece::kv(
                    "created ",
                    l,
                    &[format!("{} UTC", human::date_time(id.created_unix_ns))],
                    v,
                    15,
                )
                .after("  "),
            ]
        }
        None => vec![Piece::fixed(
            format!(
                " {} (not attached)",
                crate::model::shm_path(&app.config.segment)
            ),
            l,
            MUST,
        )],
    };
    super::draw::put_lines(frame, area, [fit::line(pieces, area.width)]);
}
