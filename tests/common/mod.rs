//! Synthetic rings for driving forge-top on a `TestBackend`.
#![allow(dead_code)]

pub mod host;

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use forge_fabric::segment::IdentitySnapshot;
use forge_top::app::{App, Config};
use forge_top::event::Event;
use forge_top::export::buffer_text;
use forge_top::model::*;
use forge_top::run::effects::RecordedEffects;
use forge_top::run::events::EventSource;
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
        bytes: index.wrapping_mul(128),
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
        // The app decides, from the facts above.
        liveness: Liveness::Unknown,
    }
}

fn latency(count: u64) -> LatencyStats {
    let count = count.min(1 << 40);
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
        range_ns: 1 << 24,
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
        newest: head.checked_sub(1),
        recorded: false,
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
    let mut v = SlotView::of(SlotCopy {
        index,
        position,
        state,
        ..SlotCopy::default()
    });
    if let Some(pos) = position {
        let body = format!("cpu.core1.util value={}", pos % 100);
        v.copy.len = 32 + body.len() as u16;
        v.copy.stamp = (pos >> 9) as u32 + 1;
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
            v.copy.bytes = bytes;
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
    /// Slots whose copy changed under the reader (a real tear).
    pub torn: Vec<u32>,
    /// Slots the producer may be rewriting (an expected tear).
    pub busy: Vec<u32>,
    /// Milliseconds after the previous tick.
    pub after_ms: u64,
    /// The core forge-top ran on at this tick, if not the script's.
    pub me_cpu: Option<u32>,
}

impl Tick {
    pub fn of(sample: Sample) -> Tick {
        Tick {
            link: Link::Attached,
            reason: None,
            sample: Some(sample),
            notes: Vec::new(),
            torn: Vec::new(),
            busy: Vec::new(),
            after_ms: 100,
            me_cpu: None,
        }
    }

    pub fn waiting(reason: &str) -> Tick {
        Tick {
            link: Link::Waiting,
            reason: Some(reason.into()),
            sample: None,
            notes: Vec::new(),
            torn: Vec::new(),
            busy: Vec::new(),
            after_ms: 100,
            me_cpu: None,
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

    /// forge-top ran on `cpu` at this tick.
    pub fn on_cpu(mut self, cpu: u32) -> Tick {
        self.me_cpu = Some(cpu);
        self
    }

    pub fn after(mut self, ms: u64) -> Tick {
        self.after_ms = ms;
        self
    }

    pub fn busy(mut self, busy: Vec<u32>) -> Tick {
        self.busy = busy;
        self
    }

    /// Marks a copy of slot `v` torn as this tick says, as the source does:
    /// a torn copy carries no frame and no bytes.
    fn spoil(&self, v: &mut SlotView) {
        let changed = self.torn.contains(&v.copy.index);
        let busy = self.busy.contains(&v.copy.index);
        if changed || busy {
            v.copy.changed = changed;
            v.overwritable = busy;
            v.torn = true;
            v.frame = None;
            v.copy.bytes.clear();
        }
    }
}

/// One scripted step.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Step {
    Tick(Tick),
    /// A sample of every ring of the host.
    Host(host::HostTick),
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
    me_cpu: u32,
    me_allowed: Vec<u32>,
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Self {
        Script {
            steps: steps.into(),
            mono: T0_MONO,
            unix: T0_UNIX,
            me_cpu: 0,
            me_allowed: vec![0, 1, 2, 3],
        }
    }

    /// forge-top itself on core `cpu`, allowed `allowed`.
    pub fn me(mut self, cpu: u32, allowed: Vec<u32>) -> Self {
        self.me_cpu = cpu;
        self.me_allowed = allowed;
        self
    }
}

impl EventSource for Script {
    fn next(&mut self, app: &App) -> std::io::Result<Option<Event>> {
        let Some(step) = self.steps.pop_front() else {
            return Ok(None);
        };
        Ok(Some(match step {
            Step::Host(t) => {
                self.mono += t.after_ms * 1_000_000;
                self.unix += t.after_ms * 1_000_000;
                Event::Host(Box::new(HostObservation {
                    mono_ns: self.mono,
                    unix_ns: self.unix,
                    took_ns: t.took_ns,
                    rings: t.rings,
                    changes: t.changes,
                    not_forge: t.not_forge,
                    me: SelfInfo {
                        pid: 4242,
                        cpu: Some(self.me_cpu),
                        rss_kib: 7_300,
                        cpu_time_ns: self.mono / 1000,
                        allowed_cores: self.me_allowed.clone(),
                        read_mono_ns: self.mono,
                    },
                }))
            }
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
                    link: t.link.clone(),
                    reason: t.reason.clone(),
                    sample: t.sample.clone(),
                    slots: Vec::new(),
                    detail: None,
                    notes: t.notes.clone(),
                    ring: None,
                    offline: None,
                    me: SelfInfo {
                        pid: 4242,
                        cpu: Some(t.me_cpu.unwrap_or(self.me_cpu)),
                        rss_kib: 6_100,
                        cpu_time_ns: 0,
                        allowed_cores: self.me_allowed.clone(),
                        read_mono_ns: 0,
                    },
                };
                if let Some(s) = &t.sample {
                    let (sel, first) = if req.follow {
                        let newest = s.newest.map(|p| (p % u64::from(s.slot_count())) as u32);
                        let sel = newest.or(req.selected);
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
                            t.spoil(&mut v);
                            v
                        })
                        .collect();
                    obs.detail = sel.map(|i| {
                        let mut v = slot(s, i, true);
                        t.spoil(&mut v);
                        v
                    });
                    if req.whole_ring {
                        obs.ring = Some(RingView {
                            slots: (0..s.slot_count())
                                .map(|i| {
                                    let mut v = slot(s, i, true);
                                    t.spoil(&mut v);
                                    v
                                })
                                .collect(),
                            unix_ns: self.unix,
                            mono_ns: self.mono,
                            took_ns: 1_200_000,
                            skipped: 0,
                            raw: None,
                            payload: Vec::new(),
                            spans: Vec::new(),
                        });
                    }
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
    drive_script(Script::new(steps), w, h)
}

/// Runs the app with forge-top itself on core `cpu`, allowed `allowed`.
pub fn drive_me(steps: Vec<Step>, cpu: u32, allowed: Vec<u32>) -> (App, String, RecordedEffects) {
    drive_script(Script::new(steps).me(cpu, allowed), 120, 40)
}

fn drive_script(script: Script, w: u16, h: u16) -> (App, String, RecordedEffects) {
    drive_app(script, App::new(Config::default(), (w, h)))
}

/// Runs `app` over the script on a `TestBackend` of the app's size.
pub fn drive_app(mut script: Script, mut app: App) -> (App, String, RecordedEffects) {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut effects = RecordedEffects::default();
    forge_top::run::tui::run(&mut terminal, &mut app, &mut script, &mut effects).unwrap();
    // The loop draws before each event; draw the final state too.
    terminal.draw(|f| forge_top::ui::render(f, &app)).unwrap();
    let text = buffer_text(terminal.backend().buffer());
    (app, text, effects)
}

/// Runs the app over `steps` without drawing between them, then draws the
/// final state once: for tests that only look at the end.
pub fn settle(steps: Vec<Step>, w: u16, h: u16) -> (App, String) {
    let mut app = App::new(Config::default(), (w, h));
    let mut script = Script::new(steps);
    while let Some(event) = script.next(&app).unwrap() {
        app.handle(event);
        if app.quit {
            break;
        }
    }
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| forge_top::ui::render(f, &app)).unwrap();
    let text = buffer_text(terminal.backend().buffer());
    (app, text)
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

/// `role`'s line and holder in `s`, to edit.
pub fn role_mut(s: &mut Sample, role: Role) -> (&mut SideSnapshot, &mut Holder) {
    match role {
        Role::Producer => (&mut s.header.producer, &mut s.producer),
        Role::Consumer => (&mut s.header.consumer, &mut s.consumer),
    }
}

/// `role` never taken: what forge-init leaves.
pub fn vacant(s: &mut Sample, role: Role) {
    let (line, holder) = role_mut(s, role);
    line.role_state = RoleState::Vacant.into();
    line.pid = 0;
    line.core = None;
    line.session = 0;
    line.heartbeat_ns = 0;
    line.program = String::new();
    line.lock_held = Some(false);
    holder.alive = Some(false);
    holder.verified = false;
    holder.proc = None;
    holder.heartbeat_age_ns = None;
    holder.uptime_ns = None;
}

/// `role`'s holder stopped cleanly `ago_ns` ago.
pub fn stopped(s: &mut Sample, role: Role, ago_ns: u64) {
    let (line, holder) = role_mut(s, role);
    line.role_state = RoleState::Stopped.into();
    line.lock_held = Some(false);
    holder.alive = Some(false);
    holder.verified = false;
    holder.proc = None;
    holder.heartbeat_age_ns = Some(ago_ns);
}

/// `role`'s holder died without a clean stop: the lock is free, the role
/// still says active.
pub fn dead(s: &mut Sample, role: Role, ago_ns: u64) {
    let (line, holder) = role_mut(s, role);
    line.lock_held = Some(false);
    holder.alive = Some(false);
    holder.verified = false;
    holder.proc = None;
    holder.heartbeat_age_ns = Some(ago_ns);
}

/// `role`'s holder lives but stopped beating (SIGSTOP).
pub fn stalled(s: &mut Sample, role: Role, age_ns: u64) {
    let (_, holder) = role_mut(s, role);
    holder.heartbeat_age_ns = Some(age_ns);
    if let Some(p) = &mut holder.proc {
        p.state = "T".into();
    }
}

/// `role`'s holder is a new process `pid`.
pub fn restarted(s: &mut Sample, role: Role, pid: u32) {
    let (line, holder) = role_mut(s, role);
    line.pid = pid;
    holder.uptime_ns = Some(2_000_000_000);
}

/// `role`'s holder lives in another pid namespace: the kernel says the role
/// is held, but the pid cannot be proven here.
pub fn elsewhere(s: &mut Sample, role: Role) {
    let (_, holder) = role_mut(s, role);
    holder.verified = false;
    holder.proc = None;
    holder.holder_note = Some("the holder is in another pid namespace".into());
}

/// Ticks that run a healthy ring for a while, then `last`.
pub fn then(last: Sample) -> Vec<Step> {
    let head = last.head().max(3_000);
    let mut steps = steady(head - 2_000, 100, 1_000, 2);
    steps.push(Step::Tick(Tick::of(last)));
    steps
}

/// What the source notes when `forge-init --force` replaced SESSION.
pub fn reinit_notes() -> Vec<SourceNote> {
    vec![
        SourceNote::Retired {
            old: SESSION,
            new: NEXT_SESSION,
        },
        SourceNote::Replaced { old: SESSION },
        SourceNote::Reattached {
            old: SESSION,
            new: NEXT_SESSION,
        },
    ]
}

/// Every state the screen tests render, by name.
pub fn states() -> Vec<(&'static str, Vec<Step>)> {
    let healthy = || sample(6_257_000, 6_256_744);
    let mut out: Vec<(&'static str, Vec<Step>)> = Vec::new();
    out.push(("running", steady(6_257_000, 256, 10_000, 5)));
    out.push((
        "empty_ring",
        vec![
            Step::Tick(Tick::of(sample(0, 0))),
            Step::Tick(Tick::of(sample(0, 0))),
        ],
    ));
    let mut s = sample(0, 0);
    vacant(&mut s, Role::Producer);
    vacant(&mut s, Role::Consumer);
    out.push((
        "both_vacant",
        vec![Step::Tick(Tick::of(s.clone())), Step::Tick(Tick::of(s))],
    ));
    let mut s = healthy();
    stopped(&mut s, Role::Producer, 3_000_000_000);
    out.push(("producer_stopped", then(s)));
    let mut s = healthy();
    dead(&mut s, Role::Producer, 4_000_000_000);
    out.push(("producer_dead", then(s)));
    let mut s = healthy();
    dead(&mut s, Role::Consumer, 9_000_000_000);
    out.push(("consumer_dead", then(s)));
    let mut s = healthy();
    stalled(&mut s, Role::Producer, 5_300_000_000);
    out.push(("producer_stalled", then(s)));
    let mut s = healthy();
    restarted(&mut s, Role::Producer, 5_101);
    out.push(("producer_restarted", then(s)));
    let mut s = healthy();
    elsewhere(&mut s, Role::Producer);
    elsewhere(&mut s, Role::Consumer);
    out.push(("holders_in_another_pid_namespace", then(s)));
    let mut s = healthy();
    s.header.producer.program = "forge-bridge".into();
    s.header.producer.flags = forge_fabric::layout::HOLDER_RELAYED;
    s.header.producer.relay_session = NEXT_SESSION;
    out.push(("relayed_by_a_bridge", then(s)));
    let mut s = healthy();
    s.producer.alive = None;
    s.consumer.alive = None;
    s.header.producer.lock_held = None;
    s.header.consumer.lock_held = None;
    out.push(("liveness_unknown", then(s)));
    let full = sample(50_000, 50_000 - 512);
    out.push((
        "ring_full",
        vec![
            Step::Tick(Tick::of(full.clone())),
            Step::Tick(Tick::of(full.clone()).after(800)),
            Step::Tick(Tick::of(full).after(800)),
        ],
    ));
    let mut s = healthy();
    s.header.producer.session = NEXT_SESSION;
    out.push(("epoch_mismatch", then(s)));
    let mut retired = sample(20_000, 20_000);
    retired.header.identity.state = SegmentState::Retired.into();
    retired.header.identity.successor_session = NEXT_SESSION;
    out.push((
        "retired",
        vec![
            Step::Tick(Tick::of(sample(19_000, 19_000))),
            Step::Tick(Tick::of(retired).notes(vec![SourceNote::Retired {
                old: SESSION,
                new: NEXT_SESSION,
            }])),
        ],
    ));
    let mut fresh = sample(0, 0);
    fresh.header.identity.session_id = NEXT_SESSION;
    vacant(&mut fresh, Role::Producer);
    vacant(&mut fresh, Role::Consumer);
    out.push((
        "reinitialized",
        vec![
            Step::Tick(Tick::of(sample(19_000, 19_000))),
            Step::Tick(Tick::of(fresh).notes(reinit_notes())),
        ],
    ));
    let mut behind = sample(105_472, 105_500);
    behind.header.producer.batch = 32;
    behind.newest = Some(105_499);
    out.push(("head_behind_tail", then(behind)));
    let s = sample(5_000, 4_900);
    let mut torn = vec![Step::Tick(Tick::of(s.clone())), key('g')];
    torn.extend(std::iter::repeat_n(key('j'), 90));
    torn.push(Step::Tick(Tick::of(s).torn(vec![90])));
    out.push(("torn_slot", torn));
    // Browsing at speed: the selection is lapped, nothing is torn.
    let mut lapped = steady(100_000, 100, 1_000, 2);
    lapped.extend([
        key('k'),
        Step::Tick(Tick::of(sample(100_000 + 90 * 512 + 7, 100_000 + 90 * 512))),
    ]);
    out.push(("selection_lapped", lapped));
    let s = sample(5_000, 4_990);
    out.push((
        "producer_next_slot_busy",
        vec![
            Step::Tick(Tick::of(s.clone())),
            key('t'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            key('j'),
            Step::Tick(Tick::of(s).busy(vec![(5_000 % 512) as u32])),
        ],
    ));
    out.push((
        "waiting",
        vec![Step::Tick(Tick::waiting(
            "/forge_shm does not exist yet (no /dev/shm/forge_shm); start forge-init, or run forge-top --demo",
        ))],
    ));
    out.push((
        "lost",
        vec![
            Step::Tick(Tick::of(sample(8_000, 7_990))),
            Step::Tick(Tick {
                link: Link::Lost,
                reason: Some("segment was truncated under us: 4096 bytes, 2105344 mapped".into()),
                sample: None,
                notes: vec![SourceNote::Truncated {
                    now: 4096,
                    mapped: 2_105_344,
                }],
                torn: vec![],
                busy: vec![],
                after_ms: 100,
                me_cpu: None,
            }),
        ],
    ));
    let mut frozen = steady(6_257_000, 256, 10_000, 3);
    frozen.extend([
        key(' '),
        Step::Tick(Tick::of(sample(6_300_000, 6_299_900))),
        key('k'),
        key('k'),
    ]);
    frozen.extend(steady(6_400_000, 100, 10_000, 3));
    out.push(("frozen", frozen));
    let mut search = steady(6_257_000, 256, 10_000, 3);
    search.extend([
        key('/'),
        key('p'),
        key('e'),
        key('n'),
        key('d'),
        Step::Key(crossterm::event::KeyCode::Enter),
    ]);
    search.extend(steady(6_300_000, 256, 10_000, 1));
    out.push(("search", search));
    let mut help = steady(6_257_000, 256, 10_000, 2);
    help.push(key('?'));
    out.push(("help", help));
    let mut hex = steady(6_257_000, 256, 10_000, 2);
    hex.push(key('x'));
    out.push(("hex", hex));
    let mut events = steady(6_257_000, 256, 10_000, 2);
    events.push(Step::Key(crossterm::event::KeyCode::Tab));
    events.push(Step::Key(crossterm::event::KeyCode::Tab));
    out.push(("events_focused", events));
    let mut picker = steady(6_257_000, 256, 10_000, 2);
    picker.push(key('o'));
    out.push(("picker_empty", picker));
    out
}

/// The sizes every state is drawn at.
pub const SIZES: [(u16, u16); 4] = [(80, 24), (100, 30), (160, 48), (220, 60)];
