//! What a recording did: the report forge-record prints.

use crate::events::MissedRange;
use crate::identity::Mode;

/// What a recording did. `--report json` prints exactly this.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordReport {
    /// `tap` or `consume`.
    pub mode: &'static str,
    /// The session recorded, hex.
    pub session: String,
    /// Frames written to the file.
    pub frames: u64,
    /// Of those, frames known to have reached the file: fewer only when
    /// writing failed, losing the chunk being built (a reader may find one
    /// more chunk, when the failure came in the index records after it).
    pub durable_frames: u64,
    /// Payload bytes of those frames.
    pub payload_bytes: u64,
    /// Positions missed (tap only).
    pub missed_frames: u64,
    /// Missed ranges, all of them.
    pub missed_ranges: u64,
    /// The missed ranges in order: every one up to
    /// [`MAX_REPORTED_RANGES`], the first ones beyond (the file lists all).
    pub missed: Vec<MissedRange>,
    /// The first position recorded or missed.
    pub first_position: u64,
    /// The position that would have been read next: `first_position +
    /// frames + missed_frames`.
    pub next_position: u64,
    /// Seconds from the first frame recorded to the last.
    pub duration_s: f64,
    /// Seconds from start to end, waiting included.
    pub wall_s: f64,
    /// Frames per second between the first frame and the last.
    pub frames_per_s: f64,
    /// Payload bytes per second between the first frame and the last.
    pub payload_bytes_per_s: f64,
    /// Files written, in order.
    pub files: Vec<String>,
    /// Bytes on disk, all files.
    pub file_bytes: u64,
    /// How it ended.
    pub end: &'static str,
}

impl RecordReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        use forge_cli::human;
        let files = format!(
            "{} on disk in {} file{}",
            human::bytes(self.file_bytes),
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
        );
        // Rates need two frames; with fewer, say how long it watched.
        let mut out = match self.frames {
            0 => format!(
                "forge-record: recorded no frame in {:.1} s of watching: none was committed \
                 to the ring meanwhile; {files}\n",
                self.wall_s,
            ),
            1 => format!(
                "forge-record: recorded 1 frame ({}) in {:.1} s of watching; {files}\n",
                human::bytes(self.payload_bytes),
                self.wall_s,
            ),
            n => format!(
                "forge-record: recorded {} frames ({}) in {:.3} s: {} frames/s, {}, {files}\n",
                human::count(n),
                human::bytes(self.payload_bytes),
                self.duration_s,
                human::si(self.frames_per_s),
                human::bytes_rate(self.payload_bytes_per_s),
            ),
        };
        out += &format!("  mode       {}\n", self.mode);
        out += &if self.next_position == self.first_position {
            format!(
                "  positions  none (next {})\n",
                human::count(self.next_position)
            )
        } else {
            format!(
                "  positions  {} .. {} (next {})\n",
                human::count(self.first_position),
                human::count(self.next_position.wrapping_sub(1)),
                human::count(self.next_position),
            )
        };
        if self.durable_frames < self.frames {
            out += &format!(
                "  LOST       only {} frames reached the file: writing failed with {} in the chunk being built{}\n",
                human::count(self.durable_frames),
                human::count(self.frames - self.durable_frames),
                if self.mode == Mode::Consume.name() {
                    " (already released from the ring)"
                } else {
                    ""
                },
            );
        }
        if self.mode == Mode::Tap.name() {
            out += &format!(
                "  missed     {} frames in {} ranges\n",
                human::count(self.missed_frames),
                human::count(self.missed_ranges)
            );
            const SHOWN: usize = 10;
            for m in self.missed.iter().take(SHOWN) {
                out += &format!(
                    "    positions {}..{} (sequences {}..{}{}): {} frames, {}\n",
                    m.first_position,
                    m.end_position,
                    m.first_sequence,
                    m.end_sequence,
                    if m.sequences_inferred {
                        ", inferred"
                    } else {
                        ""
                    },
                    m.len(),
                    m.reason
                );
            }
            if self.missed_ranges > SHOWN as u64 {
                out += &format!(
                    "    … {} more ranges: all are in the file's /forge/events channel (forge-replay --info --report json lists them)\n",
                    human::count(self.missed_ranges - SHOWN as u64)
                );
            }
        }
        for f in &self.files {
            out += &format!("  file       {f}\n");
        }
        out += &format!(
            "  session    {}\n  ended      {}\n",
            self.session,
            self.end.replace('_', " ")
        );
        out
    }
}
