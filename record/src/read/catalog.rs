//! The schemas and channels a recording declares, which of them carry
//! frames (its sessions), and what each message is.

use std::collections::{BTreeMap, HashMap};

use crate::codec;
use crate::events::{self, Event};
use crate::identity::SessionIdentity;

use super::parts::{widen, Session};

/// Why a record or message cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Damage a recovering read may skip (a chunk) or stop at.
    Damaged(String),
    /// A claim that cannot be true: the file is refused, recovery or not.
    Corrupt(String),
}

impl From<crate::mcap_io::McapIoError> for Bad {
    fn from(e: crate::mcap_io::McapIoError) -> Bad {
        Bad::Damaged(e.to_string())
    }
}

/// Channel and schema records seen so far, and which channels carry
/// frames (the sessions, in the order they appear).
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    pub(crate) schemas: HashMap<u16, (String, String)>,
    pub(crate) channels: HashMap<u16, mcap::records::Channel>,
    pub(crate) sessions: Vec<Session>,
    pub(crate) session_of: HashMap<u16, usize>,
}

/// A message sorted by what it is.
pub(crate) enum Item {
    /// A frame of session `.0`.
    Frame(usize, codec::RecordHead),
    Event(Event),
    Other,
}

/// Memory an event holds, for the reader's budget.
pub(crate) fn event_bytes(e: &Event) -> u64 {
    let heap = match e {
        Event::Missed(m) => m.reason.capacity(),
        Event::Sample(s) => s.latency_buckets.heap_bytes(),
        Event::End(e) => e.reason.capacity(),
    };
    (std::mem::size_of::<Event>() + heap) as u64
}

impl Catalog {
    /// Checks a channel record and, for a Forge frame channel, its identity:
    /// an identity naming a ring no forge-init could make is a lie, not
    /// damage.
    pub(crate) fn add_channel(&mut self, c: mcap::records::Channel) -> Result<(), Bad> {
        if c.schema_id != 0 && !self.schemas.contains_key(&c.schema_id) {
            return Err(Bad::Damaged(format!(
                "channel {} ({}) names schema {}, which was not defined before it",
                c.id, c.topic, c.schema_id
            )));
        }
        if let Some(old) = self.channels.get(&c.id) {
            if *old != c {
                return Err(Bad::Damaged(format!(
                    "channel {} is defined twice, differently",
                    c.id
                )));
            }
            return Ok(());
        }
        let is_frames = self
            .schemas
            .get(&c.schema_id)
            .is_some_and(|(name, enc)| name == codec::SCHEMA_NAME && enc == codec::SCHEMA_ENCODING);
        if is_frames {
            if c.message_encoding != codec::MESSAGE_ENCODING {
                return Err(Bad::Damaged(format!(
                    "channel {} ({}) carries {} frames, expected {}",
                    c.id,
                    c.topic,
                    c.message_encoding,
                    codec::MESSAGE_ENCODING
                )));
            }
            let identity = SessionIdentity::from_metadata(&c.metadata).map_err(|why| {
                Bad::Corrupt(format!("channel {} ({}) identity: {why}", c.id, c.topic))
            })?;
            self.session_of.insert(c.id, self.sessions.len());
            self.sessions.push(Session {
                channel_id: c.id,
                topic: c.topic.clone(),
                identity,
                frames: 0,
            });
        }
        self.channels.insert(c.id, c);
        Ok(())
    }

    /// Classifies and checks one message: a frame must decode and fit its
    /// ring's slots, an event must parse.
    pub(crate) fn classify(&self, channel: u16, data: &[u8]) -> Result<Item, Bad> {
        let Some(c) = self.channels.get(&channel) else {
            return Err(Bad::Damaged(format!(
                "a message on channel {channel}, which was not defined before it"
            )));
        };
        if let Some(&s) = self.session_of.get(&channel) {
            let head = codec::decode_head(data).map_err(|e| {
                Bad::Damaged(format!("a frame on channel {channel} ({}): {e}", c.topic))
            })?;
            let capacity = self.sessions[s].identity.payload_capacity;
            if head.payload_len > capacity as usize {
                return Err(Bad::Corrupt(format!(
                    "the frame at position {} on channel {channel} ({}) is {} bytes, and its \
                     ring's slots hold {capacity} (payload_capacity)",
                    head.position, c.topic, head.payload_len
                )));
            }
            return Ok(Item::Frame(s, head));
        }
        if c.topic == events::TOPIC && c.message_encoding == events::ENCODING {
            // A sample's buckets are counted as they are read (at most
            // events::MAX_BUCKETS), never held whole.
            let e: Event = serde_json::from_slice(data)
                .map_err(|e| Bad::Damaged(format!("an event on {}: {e}", events::TOPIC)))?;
            return Ok(Item::Event(e));
        }
        Ok(Item::Other)
    }
}

/// What a run of records contributed, summed as it is read (nothing kept
/// per frame): applied only once a whole chunk read cleanly.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Messages per channel.
    pub(crate) counts: BTreeMap<u16, u64>,
    /// Frames per session.
    pub(crate) per_session: BTreeMap<usize, u64>,
    /// Frames in all.
    pub(crate) frames: u64,
    /// Smallest and largest telemetry sequence (non-RAW frames).
    pub(crate) sequences: Option<(u64, u64)>,
    /// Earliest and latest log time.
    pub(crate) times: Option<(u64, u64)>,
    /// Events, in order.
    pub(crate) events: Vec<Event>,
}

impl Found {
    /// Takes one message; returns its frame head if it is a frame.
    pub(crate) fn message(
        &mut self,
        catalog: &Catalog,
        channel: u16,
        log_time: u64,
        data: &[u8],
    ) -> Result<Option<(usize, codec::RecordHead)>, Bad> {
        let item = catalog.classify(channel, data)?;
        *self.counts.entry(channel).or_default() += 1;
        match item {
            Item::Frame(s, head) => {
                *self.per_session.entry(s).or_default() += 1;
                self.frames += 1;
                if !head.raw {
                    widen(&mut self.sequences, head.sequence);
                }
                widen(&mut self.times, log_time);
                Ok(Some((s, head)))
            }
            Item::Event(e) => {
                self.events.push(e);
                Ok(None)
            }
            Item::Other => Ok(None),
        }
    }
}
