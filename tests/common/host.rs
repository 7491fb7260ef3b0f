//! Synthetic hosts: rings by name, in every state the host view shows.

use std::time::Duration;

use forge_top::app::{App, Config};
use forge_top::model::*;
use forge_top::run::effects::RecordedEffects;

use super::*;

/// What the synthetic host source brings on a tick.
#[derive(Debug, Clone)]
pub struct HostTick {
    pub rings: Vec<RingObservation>,
    pub changes: Vec<HostChange>,
    pub not_forge: usize,
    pub took_ns: u64,
    /// Milliseconds after the previous tick.
    pub after_ms: u64,
}

impl HostTick {
    /// A second after the last, with these rings and no change.
    pub fn of(rings: Vec<RingObservation>) -> HostTick {
        HostTick {
            rings,
            changes: Vec::new(),
            not_forge: 0,
            took_ns: 1_870_000,
            after_ms: 1_000,
        }
    }

    pub fn changes(mut self, changes: Vec<HostChange>) -> HostTick {
        self.changes = changes;
        self
    }
}

/// `s` as the ring called `name`.
pub fn named(name: &str, mut s: Sample) -> RingObservation {
    s.header.name = name.into();
    s.path = shm_path(name);
    RingObservation {
        name: name.into(),
        status: RingStatus::Sampled(Box::new(s)),
        session_changes: 0,
    }
}

/// A ring called `name` in `status`.
pub fn status(name: &str, status: RingStatus) -> RingObservation {
    RingObservation {
        name: name.into(),
        status,
        session_changes: 0,
    }
}

/// Every ring appeared (the first sample says so of all).
pub fn appeared(rings: &[RingObservation]) -> Vec<HostChange> {
    rings
        .iter()
        .map(|r| HostChange::Appeared {
            name: r.name.clone(),
        })
        .collect()
}

/// Ring `i` of a host of many (distinct sessions, pids and rates).
pub fn many(i: u64, heads: u64) -> Sample {
    let mut s = sample(heads * (i + 1), heads * (i + 1) - (i % 7));
    s.header.identity.session_id = SESSION ^ (i << 20);
    s.header.producer.session = s.header.identity.session_id;
    s.header.consumer.session = s.header.identity.session_id;
    s.header.producer.pid = 20_000 + 2 * i as u32;
    s.header.consumer.pid = 20_001 + 2 * i as u32;
    s
}

/// The host every screen test shows: healthy rings with rates, and one of
/// each trouble, twice a second apart.
pub fn mixed(t: u64) -> Vec<RingObservation> {
    let head = |base: u64| base + t * 1_000;
    let mut out = vec![named(
        "/forge_shm",
        sample(head(6_257_000), head(6_257_000) - 12),
    )];
    out.push(named(
        "/feed_camera_front_left_2026_calibrated",
        sample(head(90_000) + t * 250_000, head(90_000) + t * 250_000 - 3),
    ));
    let mut s = sample(head(40_000), head(40_000) - 5);
    dead(&mut s, Role::Producer, 4_000_000_000);
    out.push(named("/feed_lidar", s));
    let mut s = sample(head(77_000), head(77_000) - 100);
    stalled(&mut s, Role::Consumer, 6_000_000_000);
    out.push(named("/feed_imu", s));
    let full = sample(50_000, 50_000 - 512);
    out.push(named("/bridge_far_ring", full));
    let mut idle = sample(0, 0);
    vacant(&mut idle, Role::Producer);
    vacant(&mut idle, Role::Consumer);
    out.push(named("/spare_7", idle));
    out.push(status(
        "/being_made",
        RingStatus::Initializing { init_pid: 4321 },
    ));
    out.push(status(
        "/old_feed",
        RingStatus::Retired {
            session: SESSION,
            successor: NEXT_SESSION,
        },
    ));
    out.push(status(
        "/someone_elses",
        RingStatus::Unreadable {
            reason: UnreadableReason::Permission,
            detail: "permission denied".into(),
            owner: Some(Unreadable {
                uid: 1001,
                owner: Some("alice".into()),
                mode: "0600".into(),
            }),
        },
    ));
    let mut relayed = sample(head(1_000_000), head(1_000_000) - 40);
    relayed.header.producer.program = "forge-bridge".into();
    out.push(named("/from_host_b", relayed));
    out
}

/// Two samples of the mixed host, a second apart (the first says every
/// ring appeared).
pub fn mixed_host() -> Vec<Step> {
    let first = mixed(0);
    vec![
        Step::Host(HostTick::of(first.clone()).changes(appeared(&first))),
        Step::Host(HostTick::of(mixed(1))),
        Step::Host(HostTick::of(mixed(2))),
    ]
}

/// An app on the host view at `w`×`h`, sampled every second.
pub fn host_app(w: u16, h: u16) -> App {
    App::for_host(Config::default(), (w, h), Duration::from_secs(1), "")
}

/// Runs the host view over `steps` at `w`×`h`.
pub fn drive_host(steps: Vec<Step>, w: u16, h: u16) -> (App, String, RecordedEffects) {
    drive_app(Script::new(steps), host_app(w, h))
}

/// The same without drawing between steps: only the end is drawn.
pub fn settle_host(steps: Vec<Step>, w: u16, h: u16) -> (App, String) {
    use forge_top::run::events::EventSource;
    let mut app = host_app(w, h);
    let mut script = Script::new(steps);
    while let Some(event) = script.next(&app).unwrap() {
        app.handle(event);
        if app.quit {
            break;
        }
    }
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| forge_top::ui::render(f, &app)).unwrap();
    (
        app,
        forge_top::export::buffer_text(terminal.backend().buffer()),
    )
}
