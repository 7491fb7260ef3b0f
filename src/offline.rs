//! `--file`: a recording (`.mcap`) or a ring image (`.forge`) seen through
//! the same panels as a live ring.
//!
//! An image is one moment: its header, holders and every slot as copied.
//! A recording is frames over time, read through a cursor: at the cursor,
//! the ring is rebuilt from the recorded frames (each slot holds the last
//! recorded frame of its lap, or nothing the recording can vouch for), the
//! header from the recording's identity and its once-a-second samples, and
//! time is the cursor's time. Nothing is ever invented: a slot the recorder
//! missed is shown as not recorded, a holder as recorded and of unknown
//! liveness.
//!
//! ```text
//!  cursor (frame i, time t) ─▶ identity of i's session ─▶ header: head = i's position + 1,
//!                          │                               tail, counters, latency from the
//!                          │                               last sample at or before t
//!                          └─▶ frames i, i-1, … back one lap ─▶ the ring's slots
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use forge_fabric::hist::Histogram;
use forge_fabric::layout::{stamp_for, MAGIC};
use forge_fabric::observe::{HolderCheck, SideSnapshot};
use forge_fabric::segment::IdentitySnapshot;
use forge_fabric::{Coded, Role, SegmentState, SlotCopy, SlotState, Snapshot};
use forge_record::events::RingSample;
use forge_record::identity::SessionIdentity;
use forge_record::image::RingImage as Image;
use forge_record::offline::{self as files, Offline};
use forge_record::read::{RecordedFrame, Recording};

mod image;
mod shared;

use crate::model::*;
use crate::procfs;
use crate::source::{frame_info, holder, sample_of, slot_view};

use self::image::image_observation;
use self::shared::selection;

/// How long one search of a recording reads before it hands back.
pub const FIND_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// Play speeds `<` and `>` step through.
pub const SPEEDS: [f64; 9] = [0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0];

/// A file opened offline, and its cursor.
pub struct FileSource {
    path: PathBuf,
    file: File,
}

enum File {
    Image(Box<Image>),
    Recording(Box<Cursor>),
}

/// Where a recording is being read.
struct Cursor {
    rec: Recording,
    /// The frame the cursor is on.
    index: u64,
    playing: bool,
    speed: f64,
    /// When the cursor last moved by playing.
    played_at: Instant,
    /// The ring rebuilt at `index`: the slots the recording has a frame
    /// for, by slot index (sparse, so a ring of 2^20 slots recorded for a
    /// few frames costs a few frames), cached.
    ring: Option<(u64, BTreeMap<u32, RecordedFrame>)>,
    missed: u64,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileSource {
    /// Opens `path`; a recording cut short only with `recover`.
    pub fn open(path: &Path, recover: bool) -> Result<FileSource, files::OfflineError> {
        let file = match files::open(path, recover)? {
            Offline::Image(img) => File::Image(img),
            Offline::Recording(rec) => {
                let missed = rec.missed().iter().map(|m| m.len()).sum();
                File::Recording(Box::new(Cursor {
                    rec: *rec,
                    index: 0,
                    playing: false,
                    speed: 1.0,
                    played_at: Instant::now(),
                    ring: None,
                    missed,
                }))
            }
        };
        Ok(FileSource {
            path: path.to_owned(),
            file,
        })
    }

    /// What the file says at the cursor, for the slots `req` asks for.
    pub fn sample(&mut self, req: &SlotRequest) -> Observation {
        let path = self.path.display().to_string();
        match &mut self.file {
            File::Image(img) => image_observation(img, req, path),
            File::Recording(c) => {
                c.play();
                c.observation(req, path)
            }
        }
    }

    /// Moves a recording's cursor (an image has none); says where it went,
    /// or why it did not move.
    pub fn seek(&mut self, to: Seek) -> Result<String, SeekError> {
        match &mut self.file {
            File::Recording(c) => c.seek(to),
            File::Image(_) => Err(SeekError::Image),
        }
    }

    /// How long until the next sample is worth taking: soon while playing.
    pub fn playing(&self) -> bool {
        matches!(&self.file, File::Recording(c) if c.playing)
    }
}

impl Cursor {
    fn frame(&self, index: u64) -> Option<RecordedFrame> {
        self.rec.frame(index).ok()
    }

    fn last(&self) -> u64 {
        self.rec.len().saturating_sub(1)
    }

    fn play(&mut self) {
        let elapsed = self.played_at.elapsed();
        self.played_at = Instant::now();
        if !self.playing {
            return;
        }
        let Some(now) = self.frame(self.index).map(|f| f.log_time_ns) else {
            return;
        };
        let step = (elapsed.as_nanos() as f64 * self.speed) as u64;
        match self.rec.find_time(now.saturating_add(step.max(1))) {
            Ok(Some(i)) if i > self.index => self.index = i,
            Ok(Some(_)) => {}
            // Past the last frame: the end, and stop there.
            _ => {
                self.index = self.last();
                self.playing = false;
            }
        }
    }

    fn seek(&mut self, to: Seek) -> Result<String, SeekError> {
        if self.rec.is_empty() {
            return Err(SeekError::Empty);
        }
        let last = self.last();
        let at = |i: u64| i.min(last);
        match to {
            Seek::Find {
                query,
                forward,
                skip,
            } => return self.find(&query, forward, skip),
            Seek::Frames(n) => self.index = at(self.index.saturating_add_signed(n)),
            Seek::Seconds(s) => {
                let now = self.frame(self.index).map(|f| f.log_time_ns).unwrap_or(0);
                let delta = (s.abs() * 1e9) as u64;
                let t = if s >= 0.0 {
                    now.saturating_add(delta)
                } else {
                    now.saturating_sub(delta)
                };
                self.index = match self.rec.find_time(t)? {
                    Some(i) => i,
                    None => last,
                };
            }
            Seek::Sequence(seq) => match self.rec.find_sequence(seq)? {
                Some(i) => self.index = i,
                None => {
                    let first = self.frame(0).and_then(|f| f.sequence());
                    let end = self.frame(last).and_then(|f| f.sequence());
                    return Err(SeekError::NoSequence {
                        seq,
                        held: first.zip(end),
                    });
                }
            },
            Seek::Time(t) => match self.rec.find_time(t)? {
                Some(i) => self.index = i,
                None => return Err(SeekError::EndsBefore { unix_ns: t }),
            },
            Seek::Start => self.index = 0,
            Seek::End => self.index = last,
            Seek::TogglePlay => {
                self.playing = !self.playing && self.index < last;
                self.played_at = Instant::now();
                return Ok(if self.playing {
                    format!("playing at {}x the recorded pace", self.speed)
                } else {
                    "paused".into()
                });
            }
            Seek::Speed(factor) => {
                self.speed = (self.speed * factor).clamp(SPEEDS[0], SPEEDS[SPEEDS.len() - 1]);
                return Ok(format!("play speed {}x", self.speed));
            }
        }
        let when = self
            .frame(self.index)
            .map(|f| forge_cli::human::time_of_day(f.log_time_ns))
            .unwrap_or_default();
        Ok(format!(
            "cursor at frame {} of {}, {when} UTC",
            self.index + 1,
            last + 1
        ))
    }

    /// Moves the cursor to the nearest frame, later or earlier, whose kind
    /// or body matches `query`: the whole recording, not just the ring
    /// rebuilt at the cursor. A search that reads for [`FIND_BUDGET`]
    /// without a match leaves the cursor on the last frame it read and says
    /// so, so that `n` / `N` go on from there.
    fn find(&mut self, query: &str, forward: bool, skip: bool) -> Result<String, SeekError> {
        let q = query.to_lowercase();
        let last = self.last();
        let from = self.index;
        let step = |i: u64| {
            if forward {
                (i < last).then(|| i + 1)
            } else {
                i.checked_sub(1)
            }
        };
        let mut next = if skip { step(from) } else { Some(from) };
        let started = Instant::now();
        let mut read = 0u64;
        let mut searched = from;
        while let Some(i) = next {
            let f = self.rec.frame(i).map_err(|error| SeekError::ReadFrame {
                frame: i + 1,
                error,
            })?;
            searched = i;
            read += 1;
            if !f.raw && frame_info(&f.payload, true).is_ok_and(|info| info.matches(&q)) {
                self.index = i;
                self.playing = false;
                let seq = f
                    .sequence()
                    .map_or(String::new(), |s| format!(", sequence {s}"));
                return Ok(format!(
                    "frame {} of {} matches {query:?}{seq}, {} UTC",
                    i + 1,
                    last + 1,
                    forge_cli::human::time_of_day(f.log_time_ns)
                ));
            }
            if read % 1024 == 0 && started.elapsed() >= FIND_BUDGET {
                self.index = i;
                self.playing = false;
                let (a, b) = (from.min(i) + 1, from.max(i) + 1);
                return Ok(format!(
                    "no frame matches {query:?} in frames {a}..{b} yet (searched for {}); \
                     the cursor is on frame {}: {} searches on",
                    forge_cli::human::duration_ns(FIND_BUDGET.as_nanos() as u64),
                    i + 1,
                    if forward { "n" } else { "N" }
                ));
            }
            next = step(i);
        }
        if read == 0 {
            return Err(SeekError::NoMatch {
                query: query.to_owned(),
                forward,
                searched: None,
            });
        }
        let (a, b) = (from.min(searched) + 1, from.max(searched) + 1);
        Err(SeekError::NoMatch {
            query: query.to_owned(),
            forward,
            searched: Some((a, b, last + 1)),
        })
    }

    /// The ring as the recording has it at frame `index`: each slot's last
    /// recorded frame of the session no more than a lap back.
    fn ring(
        &mut self,
        index: u64,
        at: &RecordedFrame,
        slots: u32,
    ) -> &BTreeMap<u32, RecordedFrame> {
        if self.ring.as_ref().is_none_or(|(i, _)| *i != index) {
            let n = u64::from(slots.max(1));
            let mut ring = BTreeMap::new();
            let mut i = index;
            // Positions wrap: "no more than a lap back" is a distance.
            let lap = RingPosition::new(at.position).plus(1).minus(n);
            while let Some(f) = self.frame(i) {
                if f.session != at.session || !RingPosition::new(f.position).within(lap, n) {
                    break;
                }
                ring.entry((f.position % n) as u32).or_insert(f);
                if ring.len() as u64 == n || i == 0 {
                    break;
                }
                i -= 1;
            }
            self.ring = Some((index, ring));
        }
        &self.ring.as_ref().expect("just built").1
    }

    /// An empty recording: its session's ring as the recorder found it (no
    /// frame recorded), or, with no session either, only that it is empty.
    fn empty(&self, path: String) -> Observation {
        let offline = OfflineView {
            path: path.clone(),
            kind: OfflineKind::Recording,
            frame: 0,
            frames: 0,
            playing: false,
            speed: self.speed,
            range_unix_ns: (0, 0),
            session: (0, self.rec.sessions().len()),
            missed: self.missed,
        };
        let Some(session) = self.rec.sessions().first() else {
            return Observation {
                link: Link::Attached,
                reason: Some(format!(
                    "{path} is an empty recording: no frame, and no session recorded"
                )),
                me: procfs::self_info(),
                offline: Some(offline),
                ..Observation::default()
            };
        };
        let id = &session.identity;
        let samples: Vec<_> = self
            .rec
            .samples()
            .iter()
            .filter(|s| s.session == id.session_id)
            .collect();
        let unix_ns = samples.last().map_or(id.clock.unix_ns, |s| s.at_unix_ns);
        let mut sample = self.rebuilt(id, &samples, None, unix_ns);
        sample.header.newest = None;
        Observation {
            mono_ns: id.clock.to_mono(unix_ns),
            unix_ns,
            link: Link::Attached,
            reason: None,
            slots: Vec::new(),
            detail: None,
            notes: Vec::new(),
            ring: None,
            me: procfs::self_info(),
            offline: Some(OfflineView {
                range_unix_ns: (unix_ns, unix_ns),
                ..offline
            }),
            sample: Some(sample),
        }
    }

    /// The header at a moment of a recording, rebuilt from the session's
    /// identity, its once-a-second `samples` up to then (in order), and the
    /// frame at the cursor, if any.
    fn rebuilt(
        &self,
        id: &SessionIdentity,
        samples: &[&RingSample],
        at: Option<&RecordedFrame>,
        unix_ns: u64,
    ) -> Sample {
        let mono_ns = id.clock.to_mono(unix_ns);
        // The last sample, and the one about a second before it (for the
        // recent latency).
        let last = samples.last().copied();
        let earlier = last.and_then(|l| {
            samples
                .iter()
                .rev()
                .find(|s| l.at_unix_ns.saturating_sub(s.at_unix_ns) >= 900_000_000)
                .copied()
        });
        let n64 = u64::from(id.slot_count.max(1));
        let (head, tail) = match at {
            Some(at) => {
                let head = RingPosition::new(at.position).plus(1);
                // What is known of tail: it never falls back, and never more
                // than a lap behind head. A lower bound, said as one. A
                // session whose ring began at 0 has no positions before the
                // wrap.
                let lap_back = head.minus(n64);
                let floor = if lap_back.wraps_before(head)
                    && !RingPosition::new(id.start_position).wraps_before(head)
                {
                    RingPosition::new(0)
                } else {
                    lap_back
                };
                let tail = last
                    .map_or(floor, |l| RingPosition::new(l.tail))
                    .max(floor)
                    .min(head);
                (head.get(), tail.get())
            }
            // Nothing recorded: the ring as last sampled, or as found.
            None => last.map_or((id.start_position, id.start_position), |l| (l.head, l.tail)),
        };
        let line =
            |h: &forge_record::identity::Holder, index: u64, messages: u64, pressure: u64| {
                SideSnapshot {
                    index,
                    wait_strategy: Coded::from_code(h.wait_strategy),
                    pid: h.pid,
                    core: h.core,
                    session: id.session_id,
                    messages,
                    backpressure: pressure,
                    role_state: Coded::from_code(h.role_state),
                    batch: 1,
                    flags: h.flags,
                    program: h.program.clone(),
                    // Whether it lived then is not in the file.
                    lock_held: None,
                    ..SideSnapshot::default()
                }
            };
        let latency = last.map(|l| l.latency()).unwrap_or_default();
        let recent = match (last, earlier) {
            (Some(l), Some(e)) => l.latency().since(&e.latency()),
            _ => Histogram::default(),
        };
        let snapshot = Snapshot {
            name: id.segment.clone(),
            file_size: id.segment_size,
            identity: IdentitySnapshot {
                magic: MAGIC,
                layout_version: id.layout_version,
                header_size: id.header_size,
                slot_size: id.slot_size,
                slot_count: id.slot_count,
                segment_size: id.segment_size,
                session_id: id.session_id,
                state: SegmentState::Live.into(),
                created_unix_ns: id.created_unix_ns,
                created_mono_ns: id.created_mono_ns,
                payload_capacity: id.payload_capacity,
                ..IdentitySnapshot::default()
            },
            slot_count: id.slot_count,
            // Counters as last sampled, but never below what the frames
            // themselves show (head, tail at the cursor).
            producer: line(
                &id.producer,
                head,
                last.map_or(head, |l| l.producer_messages.max(head)),
                last.map_or(0, |l| l.producer_backpressure),
            ),
            consumer: line(
                &id.consumer,
                tail,
                last.map_or(tail, |l| l.consumer_messages.max(tail)),
                last.map_or(0, |l| l.consumer_backpressure),
            ),
            latency,
            head,
            tail,
            newest: at.map(|f| f.position),
            taken_mono_ns: mono_ns,
            ..Snapshot::default()
        };
        let holders = [Role::Producer, Role::Consumer].map(|role| {
            let l = snapshot.side(role);
            holder(l, role, &HolderCheck::Unknown, None, mono_ns)
        });
        let mut sample = sample_of(snapshot, holders, &recent);
        // Checks of the header's consistency are about a live header, not
        // one rebuilt from samples a second apart.
        sample.violations.clear();
        sample.recorded = true;
        sample
    }

    fn observation(&mut self, req: &SlotRequest, path: String) -> Observation {
        if self.rec.is_empty() {
            return self.empty(path);
        }
        let index = self.index;
        let Some(at) = self.frame(index) else {
            return Observation {
                link: Link::Lost,
                reason: Some(format!("frame {index} of {path} cannot be read")),
                ..Observation::default()
            };
        };
        let Some(session) = self.rec.sessions().get(at.session) else {
            return Observation {
                link: Link::Lost,
                reason: Some(format!("frame {index} of {path} names no session")),
                ..Observation::default()
            };
        };
        let id = session.identity.clone();
        let sessions = self.rec.sessions().len();
        let mono_ns = id.clock.to_mono(at.log_time_ns);
        let samples: Vec<&RingSample> = self
            .rec
            .samples()
            .iter()
            .filter(|s| s.session == id.session_id && s.at_unix_ns <= at.log_time_ns)
            .collect();
        let sample = self.rebuilt(&id, &samples, Some(&at), at.log_time_ns);
        let tail = sample.header.tail;
        let n = sample.slot_count();
        let shift = n.max(1).trailing_zeros();
        let view_of = |i: u32, f: Option<&RecordedFrame>| -> SlotView {
            match f {
                Some(f) => {
                    let mut view = slot_view(
                        SlotCopy {
                            index: i,
                            position: Some(f.position),
                            state: if !RingPosition::new(f.position)
                                .is_before(RingPosition::new(tail))
                            {
                                SlotState::Pending
                            } else {
                                SlotState::Consumed
                            },
                            len: f.payload.len() as u16,
                            flags: f.slot_flags,
                            stamp: stamp_for(f.position, shift),
                            bytes: f.payload.clone(),
                            changed: false,
                            overwritable: false,
                            torn: false,
                        },
                        true,
                        false,
                    );
                    view.recording = Some(true);
                    view
                }
                None => SlotView {
                    recording: Some(false),
                    ..SlotView::of(SlotCopy {
                        index: i,
                        state: SlotState::Free,
                        ..SlotCopy::default()
                    })
                },
            }
        };
        let (selected, first) = selection(&sample, req);
        let end = first.saturating_add(req.count).min(n);
        let ring = self.ring(index, &at, n);
        let slots = (first..end).map(|i| view_of(i, ring.get(&i))).collect();
        let detail = selected
            .filter(|&i| i < n)
            .map(|i| view_of(i, ring.get(&i)));
        let whole = req.whole_ring.then(|| RingView {
            slots: (0..n).map(|i| view_of(i, ring.get(&i))).collect(),
            unix_ns: at.log_time_ns,
            mono_ns,
            took_ns: 0,
            skipped: 0,
            raw: None,
            payload: Vec::new(),
            spans: Vec::new(),
        });
        let range = self
            .rec
            .time_range()
            .unwrap_or((at.log_time_ns, at.log_time_ns));
        Observation {
            mono_ns,
            unix_ns: at.log_time_ns,
            link: Link::Attached,
            reason: None,
            slots,
            detail,
            notes: Vec::new(),
            ring: whole,
            me: procfs::self_info(),
            offline: Some(OfflineView {
                path,
                kind: OfflineKind::Recording,
                frame: index,
                frames: self.rec.len(),
                playing: self.playing,
                speed: self.speed,
                range_unix_ns: range,
                session: (at.session, sessions),
                missed: self.missed,
            }),
            sample: Some(sample),
        }
    }
}
