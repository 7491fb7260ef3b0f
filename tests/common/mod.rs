//! Synthetic rings for driving forge-top on a `TestBackend`.
#![allow(dead_code)]

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use forge_fabric::segment::IdentitySnapshot;
use forge_top::app::{self, App, Config, RecordedEffects};
use forge_top::event::{Event, EventSource};
use forge_top::export::buffer_text;
use forge_top::model::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// 2026-01-01 12:00:00 UTC.
pub const T0_UNIX: u64 = 1_767_268_800_000_000_000;
/// An arbitrary CLOCK_MONOTONIC origin.
pub const T0_MONO: u64 = 5_000_000_000_000;
pub const SESSION: u64 = 0x5eed_0000_cafe_f00d;
pub const NEXT_SESSION: u64 = 0x7a11_0000_beef_0001;

fn line(role: Role, index: u64, pid: u32, core: u32) -> SideSnapshot {
    SideSnapshot {
        index,
        pid,
        role_state: RoleState::Active.into(),
        core: Some(core),
        session: SESSION,
        heartbeat_ns: T0_MONO - 12_000_000,
        messages: index,
        bytes: index * 128,
        backpressure: 17,
        batch: 1,
        wait_strategy: WaitStrategy::Spin.into(),
        sleeping: false,
        started_mono_ns: T0_MONO - 93_000_000_000,
        program: match role {
            Role::Producer => "forge-stream".into(),
            Role::Consumer => "forge-core".into(),
        },
        lock_held: Some(true),
        ..SideSnapshot::default()
    }
}

fn holder(role: Role, core: u32) -> Holder {
    Holder {
        role,
        alive: Some(true),
        verified: true,
        holder_note: None,
        proc: Some(ProcInfo {
            comm: match role {
                Role::Producer => "forge-stream".into(),
                Role::Consumer => "forge-core".into(),
            },
            state: "R".into(),
            cpus_allowed: core.to_string(),
            last_cpu: Some(core),
            rss_kib: 2048,
        }),
        heartbeat_age_ns: Some(12_000_000),
        uptime_ns: Some(93_000_000_000),
    }
}

fn latency(count: u64) -> LatencyStats {
    if count == 0 {
        return LatencyStats {
            bins: bins(&[0; 10]),
            ..LatencyStats::default()
        };
    }
    LatencyStats {
        count,
        mean_ns: Some(310),
        p50_ns: Some(240),
        p90_ns: Some(420),
        p99_ns: Some(1_900),
        p999_ns: Some(7_800),
        max_ns: 48_000,
        overflow: 0,
        bins: bins(&[
            0,
            count / 10,
            count * 6 / 10,
            count * 2 / 10,
            count / 20,
            count / 40,
            count / 100,
            count / 200,
            0,
            0,
        ]),
    }
}

fn bins(counts: &[u64; 10]) -> Vec<LatencyBin> {
    let edges = [
        0u64,
        100,
        200,
        500,
        1_000,
        2_000,
        5_000,
        10_000,
        100_000,
        1_000_000,
        u64::MAX,
    ];
    (0..10)
        .map(|i| LatencyBin {
            lo_ns: edges[i],
            hi_ns: edges[i + 1],
            count: counts[i],
        })
        .collect()
}

/// A live, healthy 512-slot ring with `head` and `tail`.
pub fn sample(head: u64, tail: u64) -> Sample {
    Sample {
        header: Snapshot {
            name: "/forge_shm".into(),
            file_size: 2_105_344,
            identity: IdentitySnapshot {
                magic: forge_fabric::layout::MAGIC,
                layout_version: 1,
                header_size: 4096,
                slot_size: 4104,
                slot_count: 512,
                segment_size: 2_105_344,
                session_id: SESSION,
                state: SegmentState::Live.into(),
                init_pid: 4100,
                created_unix_ns: T0_UNIX - 93_000_000_000,
                created_mono_ns: T0_MONO - 93_000_000_000,
                payload_capacity: 4096,
                ..IdentitySnapshot::default()
            },
            slot_count: 512,
            producer: line(Role::Producer, head, 4101, 1),
            consumer: line(Role::Consumer, tail, 4102, 2),
            head,
            tail,
            taken_mono_ns: T0_MONO,
            ..Snapshot::default()
        },
        path: "/dev/shm/forge_shm".into(),
        age_ns: 93_000_000_000,
        producer: holder(Role::Producer, 1),
        consumer: holder(Role::Consumer, 2),
        latency: latency(tail),
        latency_recent: latency(tail.min(100_000)),
        violations: Vec::new(),
    }
}

/// Where slot `index` stands relative to `s`'s indices: the ring position it
/// holds or last held, and whether that frame is pending or consumed (what
/// fabric's `Snapshot::slot_state` says for a live ring).
fn slot_position(s: &Sample, index: u32) -> (SlotState, Option<u64>) {
    s.header.slot_state(index)
}

/// A synthetic slot copy consistent with `s`.
pub fn slot(s: &Sample, index: u32, whole: bool) -> SlotView {
    let (state, position) = slot_position(s, index);
    let mut v = SlotView {
        index,
        position,
        state,
        len: 0,
        flags: 0,
        stamp: 0,
        torn: false,
        bytes: Vec::new(),
        frame: None,
        frame_error: None,
    };
    if let Some(pos) = position {
        let body = format!("cpu.core1.util value={}", pos % 100);
        v.len = 32 + body.len() as u16;
        v.stamp = (pos >> 9) as u32 + 1;
        v.frame = Some(FrameInfo {
            sequence: pos,
            timestamp_ns: T0_MONO - 1_000,
            source_id: 4101,
            kind: "metric".into(),
            body_len: body.len() as u32,
            checksum: 0x1234_abcd,
            valid: whole,
            error: None,
            body_preview: body.clone(),
        });
        if whole {
            let mut bytes = pos.to_le_bytes().to_vec();
            bytes.extend_from_slice(&(T0_MONO - 1_000).to_le_bytes());
            bytes.extend_from_slice(&4101u32.to_le_bytes());
            bytes.extend_from_slice(&[1, 0, 0, 0]);
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&0x1234_abcdu32.to_le_bytes());
            bytes.extend_from_slice(body.as_bytes());
            v.bytes = bytes;
        }
    }
    v
}

/// What the synthetic source does on a tick.
#[derive(Debug, Clone)]
pub struct Tick {
    pub link: Link,
    pub reason: Option<String>,
    pub sample: Option<Sample>,
    pub notes: Vec<SourceNote>,
    /// Slots to report as torn.
    pub torn: Vec<u32>,
    /// Milliseconds after the previous tick.
    pub after_ms: u64,
}

impl Tick {
    pub fn of(sample: Sample) -> Tick {
        Tick {
            link: Link::Attached,
            reason: None,
            sample: Some(sample),
            notes: Vec::new(),
            torn: Vec::new(),
            after_ms: 100,
        }
    }

    pub fn waiting(reason: &str) -> Tick {
        Tick {
            link: Link::Waiting,
            reason: Some(reason.into()),
            sample: None,
            notes: Vec::new(),
            torn: Vec::new(),
            after_ms: 100,
        }
    }

    pub fn notes(mut self, notes: Vec<SourceNote>) -> Tick {
        self.notes = notes;
        self
    }

    pub fn torn(mut self, torn: Vec<u32>) -> Tick {
        self.torn = torn;
        self
    }

    pub fn after(mut self, ms: u64) -> Tick {
        self.after_ms = ms;
        self
    }
}

/// One scripted step.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Step {
    Tick(Tick),
    Key(KeyCode),
    Mouse(MouseEventKind, u16, u16),
}

pub fn key(c: char) -> Step {
    Step::Key(KeyCode::Char(c))
}

/// Answers ticks the way the live source does: slots per the app's request.
pub struct Script {
    steps: VecDeque<Step>,
    mono: u64,
    unix: u64,
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Self {
        Script {
            steps: steps.into(),
            mono: T0_MONO,
            unix: T0_UNIX,
        }
    }
}

impl EventSource for Script {
    fn next(&mut self, app: &App) -> std::io::Result<Option<Event>> {
        let Some(step) = self.steps.pop_front() else {
            return Ok(None);
        };
        Ok(Some(match step {
            Step::Key(code) => Event::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            Step::Mouse(kind, column, row) => Event::Mouse(MouseEvent {
                kind,
                column,
                row,
                modifiers: KeyModifiers::NONE,
            }),
            Step::Tick(t) => {
                self.mono += t.after_ms * 1_000_000;
                self.unix += t.after_ms * 1_000_000;
                let req = app.slot_request();
                let mut obs = Observation {
                    mono_ns: self.mono,
                    unix_ns: self.unix,
                    link: t.link,
                    reason: t.reason,
                    sample: t.sample.clone(),
                    slots: Vec::new(),
                    detail: None,
                    notes: t.notes,
                    me: SelfInfo {
                        pid: 4242,
                        cpu: Some(0),
                        rss_kib: 6_100,
                        cpu_time_ns: 0,
                        allowed_cores: vec![0, 1, 2, 3],
                    },
                };
                if let Some(s) = &t.sample {
                    let (sel, first) = if req.follow {
                        let sel = newest_slot(s.head(), s.slot_count()).or(req.selected);
                        let first = sel.map_or(req.first, |x| {
                            scroll_to(req.first, req.count, x, s.slot_count())
                        });
                        (sel, first)
                    } else {
                        (req.selected, req.first)
                    };
                    let end = (first + req.count).min(s.slot_count());
                    obs.slots = (first..end)
                        .map(|i| {
                            let mut v = slot(s, i, false);
                            if t.torn.contains(&i) {
                                v.torn = true;
                                v.frame = None;
                            }
                            v
                        })
                        .collect();
                    obs.detail = sel.map(|i| {
                        let mut v = slot(s, i, true);
                        if t.torn.contains(&i) {
                            v.torn = true;
                            v.frame = None;
                            v.bytes.clear();
                        }
                        v
                    });
                }
                Event::Data(Box::new(obs))
            }
        }))
    }
}

/// Runs the app over `steps` on a 120x40 `TestBackend`.
pub fn drive(steps: Vec<Step>) -> (App, String, RecordedEffects) {
    drive_sized(steps, 120, 40)
}

pub fn drive_sized(steps: Vec<Step>, w: u16, h: u16) -> (App, String, RecordedEffects) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut app = App::new(Config::default(), (w, h));
    let mut effects = RecordedEffects::default();
    app::run(
        &mut terminal,
        &mut app,
        &mut Script::new(steps),
        &mut effects,
    )
    .unwrap();
    // The loop draws before each event; draw the final state too.
    terminal.draw(|f| forge_top::ui::render(f, &app)).unwrap();
    let text = buffer_text(terminal.backend().buffer());
    (app, text, effects)
}

/// Ticks of a steady ring: `n` samples, head advancing by `rate` per 100 ms.
pub fn steady(head: u64, tail_lag: u64, rate: u64, n: u64) -> Vec<Step> {
    (0..n)
        .map(|i| {
            let h = head + i * rate;
            Step::Tick(Tick::of(sample(h, h - tail_lag)))
        })
        .collect()
}
