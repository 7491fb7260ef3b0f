//! What crosses the network, and how a receiver checks it.
//!
//! Every message is one Zenoh payload laid out the same way: a 48-byte
//! header that states what the message claims, a body, and a 32-byte tag
//! (see [`crate::auth`]) over the header and the body under the stream's
//! key (derived from the key file and the stream's key expression). A
//! receiver checks the tag before it reads anything else.
//!
//! ```text
//!  0       4    5     8          16        24        32             48        len-32    len
//!  │ "FGB3" │kind│ 0 0 0│ session  │  first  │   end   │    nonce     │  body …  │  tag   │
//!           u8          u64 LE     u64 LE    u64 LE    16 bytes
//! ```
//!
//! | kind | key | body | claims |
//! |---|---|---|---|
//! | frames | KEY | records | origin `session` published frames `first..end` |
//! | history frames | reply on KEY/@history | records | the same, in answer to query `nonce` |
//! | gone | reply on KEY/@history | none | frames `first..end` of `session` are gone from the sender for good (query `nonce`) |
//! | session | reply on KEY/@session | none | the sender publishes `session` now; it still has `first..end` (query `nonce`) |
//! | out/in status | KEY/@status (header and tag in the attachment) | JSON | a bridge's status; `end` is its next sequence |
//! | history/session query | selector parameters `from`, `to`, `nonce`, `mac` | none | a receiver asks |
//!
//! A pack's records are the frames `first, first+1, …, end-1`, each as a
//! 4-byte little-endian length and the frame's bytes exactly as they sat in
//! the origin slot. The bridge reads one thing from a frame: its sequence
//! number, the first 8 bytes (little-endian) of every Forge frame format
//! (see [`frame_sequence`]). Everything else — header layout, checksum,
//! format version — passes through untouched, for the far ring's readers
//! to check.
//!
//! Sequences compare by wrapping distance: `first..end` holds
//! `end - first` (mod 2⁶⁴) frames, which must be at most [`MAX_RANGE`];
//! a longer range cannot be told from a reversed one and is refused.

use zenoh::key_expr::KeyExpr;

use crate::auth::{AuthKey, MAC_LEN};

/// First bytes of every message: "FGB" and the wire version.
pub const MAGIC: [u8; 4] = *b"FGB3";
/// Bytes of the header.
pub const HEADER_LEN: usize = 48;
/// Bytes of a query nonce.
pub const NONCE_LEN: usize = 16;
/// Bytes before each frame of a pack: its length.
pub const RECORD_LEN: usize = 4;
/// Largest message a receiver reads (a pack of `--pack-bytes` at most).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Default bound of a pack, header and tag included: one Zenoh batch
/// (64 KiB) with room for Zenoh's own framing, so a pack is never split.
pub const DEFAULT_PACK_BYTES: usize = 65_000;
/// Longest range a message or query may claim, in sequences.
pub const MAX_RANGE: u64 = 1 << 62;
/// Most bytes of body any frame may have here: the largest slot payload.
pub const MAX_FRAME: usize = forge_fabric::PAYLOAD_CAPACITY;
/// Bytes of a frame the bridge reads: its sequence number.
pub const SEQUENCE_LEN: usize = 8;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Frames of the live stream.
    Frames = 1,
    /// Frames answering a history query.
    HistoryFrames = 2,
    /// A range the sender no longer has.
    Gone = 3,
    /// The session the sender publishes now.
    Session = 4,
    /// `out`'s status.
    OutStatus = 5,
    /// `in`'s status.
    InStatus = 6,
    /// A history query (the parameters' tag).
    HistoryQuery = 7,
    /// A session query (the parameters' tag).
    SessionQuery = 8,
}

impl Kind {
    fn from_code(c: u8) -> Option<Kind> {
        Some(match c {
            1 => Kind::Frames,
            2 => Kind::HistoryFrames,
            3 => Kind::Gone,
            4 => Kind::Session,
            5 => Kind::OutStatus,
            6 => Kind::InStatus,
            7 => Kind::HistoryQuery,
            8 => Kind::SessionQuery,
            _ => return None,
        })
    }

    /// Does this kind carry frames?
    pub fn has_frames(self) -> bool {
        matches!(self, Kind::Frames | Kind::HistoryFrames)
    }
}

/// What a message claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// What it is.
    pub kind: Kind,
    /// The origin ring's session.
    pub session: u64,
    /// First sequence of the range it is about.
    pub first: u64,
    /// One past the last.
    pub end: u64,
    /// The query it answers (zero for live messages).
    pub nonce: [u8; NONCE_LEN],
}

impl Header {
    /// Sequences in `first..end`.
    pub fn count(&self) -> u64 {
        self.end.wrapping_sub(self.first)
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = self.kind as u8;
        b[8..16].copy_from_slice(&self.session.to_le_bytes());
        b[16..24].copy_from_slice(&self.first.to_le_bytes());
        b[24..32].copy_from_slice(&self.end.to_le_bytes());
        b[32..48].copy_from_slice(&self.nonce);
        b
    }

    /// Reads a header; only shape is checked here, the tag is checked by
    /// [`open`].
    pub fn decode(b: &[u8]) -> Result<Header, Rejected> {
        let b: &[u8; HEADER_LEN] = b
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(Rejected::Short { len: b.len() })?;
        if b[0..4] != MAGIC {
            return Err(Rejected::Magic);
        }
        let kind = Kind::from_code(b[4]).ok_or(Rejected::Kind(b[4]))?;
        if b[5..8] != [0, 0, 0] {
            return Err(Rejected::Reserved);
        }
        let u = |at: usize| forge_frame::le::u64_at(b, at);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&b[32..48]);
        Ok(Header {
            kind,
            session: u(8),
            first: u(16),
            end: u(24),
            nonce,
        })
    }
}

/// Why a message is not acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Shorter than a header and a tag.
    #[error("{len} bytes is shorter than a bridge message ({} bytes at least)", HEADER_LEN + MAC_LEN)]
    Short {
        /// Bytes received.
        len: usize,
    },
    /// Longer than any bridge message.
    #[error("{len} bytes is longer than a bridge message ({MAX_MESSAGE} bytes at most)")]
    TooLong {
        /// Bytes received.
        len: usize,
    },
    /// Not a bridge message of this version.
    #[error("not a forge-bridge v3 message (magic)")]
    Magic,
    /// An unknown kind.
    #[error("unknown message kind {0}")]
    Kind(u8),
    /// Reserved bytes set.
    #[error("reserved header bytes are not zero")]
    Reserved,
    /// The tag does not authenticate the message.
    #[error("the tag does not match: not sent by a holder of this stream's key, or altered")]
    Tag,
    /// Authenticated, but the body does not hold what the header says.
    #[error("malformed body: {0}")]
    Body(&'static str),
    /// Authenticated, but a kind that does not belong where it came.
    #[error("a {0:?} message where it does not belong")]
    Misplaced(Kind),
}

impl Rejected {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Rejected::Tag => "bad_tag",
            Rejected::Short { .. } | Rejected::TooLong { .. } => "bad_size",
            Rejected::Magic | Rejected::Kind(_) | Rejected::Reserved => "not_a_bridge_message",
            Rejected::Body(_) => "malformed",
            Rejected::Misplaced(_) => "misplaced",
        }
    }
}

/// A message whose tag held.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// What it claims.
    pub header: Header,
    /// Its body (records, JSON or nothing).
    pub body: &'a [u8],
}

/// Checks a message's size, header shape and tag on stream `key`, and
/// for packs that the records are exactly `first..end`. Nothing is read
/// from the body before the tag holds.
pub fn open<'a>(auth: &AuthKey, key: &str, bytes: &'a [u8]) -> Result<Message<'a>, Rejected> {
    if bytes.len() > MAX_MESSAGE {
        return Err(Rejected::TooLong { len: bytes.len() });
    }
    if bytes.len() < HEADER_LEN + MAC_LEN {
        return Err(Rejected::Short { len: bytes.len() });
    }
    let header = Header::decode(bytes)?;
    let (signed, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    if !auth.check(key, &[signed], tag) {
        return Err(Rejected::Tag);
    }
    let body = &signed[HEADER_LEN..];
    let count = header.count();
    if count > MAX_RANGE {
        return Err(Rejected::Body("a range longer than 2^62 sequences"));
    }
    if header.kind.has_frames() {
        if count == 0 {
            return Err(Rejected::Body("a pack without frames"));
        }
        let mut n = 0u64;
        for r in records(body) {
            if r.is_err() {
                return Err(Rejected::Body("a record runs past the body"));
            }
            n += 1;
        }
        if n != count {
            return Err(Rejected::Body("the records do not match the range"));
        }
    } else if !body.is_empty() {
        return Err(Rejected::Body("a body where none belongs"));
    }
    Ok(Message { header, body })
}

/// Checks a status sample: its attachment is a header and a tag over the
/// key, the header and the JSON payload.
pub fn open_status(
    auth: &AuthKey,
    key: &str,
    payload: &[u8],
    attachment: &[u8],
) -> Result<Header, Rejected> {
    if attachment.len() != HEADER_LEN + MAC_LEN {
        return Err(Rejected::Short {
            len: attachment.len(),
        });
    }
    if payload.len() > MAX_MESSAGE {
        return Err(Rejected::TooLong { len: payload.len() });
    }
    let header = Header::decode(attachment)?;
    let (h, tag) = attachment.split_at(HEADER_LEN);
    if !auth.check(key, &[h, payload], tag) {
        return Err(Rejected::Tag);
    }
    Ok(header)
}

/// The attachment of a status sample.
pub fn status_attachment(auth: &AuthKey, key: &str, header: &Header, payload: &[u8]) -> Vec<u8> {
    let h = header.encode();
    let tag = auth.tag(key, &[&h, payload]);
    [&h[..], &tag[..]].concat()
}

/// A message without a body (gone, session), tagged.
pub fn seal_empty(auth: &AuthKey, key: &str, header: &Header) -> Vec<u8> {
    let h = header.encode();
    let tag = auth.tag(key, &[&h]);
    [&h[..], &tag[..]].concat()
}

/// The records of a pack's body, in order; an `Err` ends a malformed body.
pub fn records(body: &[u8]) -> impl Iterator<Item = Result<&[u8], ()>> + '_ {
    let mut rest = body;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((len, after)) = rest.split_first_chunk::<RECORD_LEN>() else {
            rest = &[];
            return Some(Err(()));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len > MAX_FRAME || len > after.len() {
            rest = &[];
            return Some(Err(()));
        }
        let (frame, tail) = after.split_at(len);
        rest = tail;
        Some(Ok(frame))
    })
}

/// The frames of a pack [`open`] accepted, with their sequences.
pub fn frames<'a>(m: &Message<'a>) -> impl Iterator<Item = (u64, &'a [u8])> + 'a {
    let first = m.header.first;
    records(m.body)
        .map_while(Result::ok)
        .enumerate()
        .map(move |(i, f)| (first.wrapping_add(i as u64), f))
}

/// Builds one pack: frames of consecutive sequences, up to a byte bound.
///
/// At least one frame always fits, whatever its size, so a frame as large
/// as a slot travels even under a small bound.
#[derive(Debug)]
pub struct Packer {
    buf: Vec<u8>,
    limit: usize,
    first: u64,
    end: u64,
}

impl Packer {
    /// A packer whose packs are at most `limit` bytes (header and tag
    /// included) unless one frame alone is larger.
    pub fn new(limit: usize) -> Packer {
        Packer {
            buf: Vec::new(),
            limit: limit.clamp(HEADER_LEN + MAC_LEN + RECORD_LEN, MAX_MESSAGE),
            first: 0,
            end: 0,
        }
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Frames in the pack being built.
    pub fn count(&self) -> u64 {
        self.end.wrapping_sub(self.first)
    }

    /// Is the pack empty?
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The sequence the next frame must have (once one is in).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Can frame `sequence` of `len` bytes join the pack?
    #[inline]
    pub fn fits(&self, sequence: u64, len: usize) -> bool {
        self.is_empty()
            || (sequence == self.end
                && self.buf.len() + RECORD_LEN + len + MAC_LEN <= self.limit
                && self.count() < MAX_RANGE)
    }

    /// Adds a frame; the caller checked [`fits`](Self::fits).
    #[inline]
    pub fn push(&mut self, sequence: u64, frame: &[u8]) {
        debug_assert!(self.fits(sequence, frame.len()));
        debug_assert!(frame.len() <= u32::MAX as usize);
        if self.is_empty() {
            self.buf.clear();
            self.buf.reserve(self.limit);
            self.buf.extend_from_slice(&[0u8; HEADER_LEN]);
            self.first = sequence;
            self.end = sequence;
        }
        self.buf
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(frame);
        self.end = sequence.wrapping_add(1);
    }

    /// Seals the pack (header and tag) and hands it over; the packer is
    /// empty again. `None` if it held no frame.
    pub fn seal(
        &mut self,
        auth: &AuthKey,
        key: &str,
        kind: Kind,
        session: u64,
        nonce: [u8; NONCE_LEN],
    ) -> Option<Vec<u8>> {
        if self.is_empty() {
            return None;
        }
        let header = Header {
            kind,
            session,
            first: self.first,
            end: self.end,
            nonce,
        };
        self.buf[..HEADER_LEN].copy_from_slice(&header.encode());
        let tag = auth.tag(key, &[&self.buf]);
        self.buf.extend_from_slice(&tag);
        self.first = self.end;
        let mut pack = std::mem::take(&mut self.buf);
        // A pack at a low rate holds one small frame: give back the rest of
        // the reservation (glibc shrinks in place).
        if pack.capacity() > 2 * pack.len() {
            pack.shrink_to_fit();
        }
        Some(pack)
    }
}

/// The sequence number of a frame: its first 8 bytes, little-endian, in
/// every Forge frame format. `None` for fewer bytes than that.
#[inline]
pub fn frame_sequence(frame: &[u8]) -> Option<u64> {
    frame
        .first_chunk::<SEQUENCE_LEN>()
        .map(|b| u64::from_le_bytes(*b))
}

/// The status key for stream `key`.
pub fn status_key(key: &KeyExpr<'_>) -> KeyExpr<'static> {
    key.join("@status")
        .expect("a valid key joined with @status")
        .into_owned()
}

/// The history key for stream `key`.
pub fn history_key(key: &KeyExpr<'_>) -> KeyExpr<'static> {
    key.join("@history")
        .expect("a valid key joined with @history")
        .into_owned()
}

/// The session key for stream `key`.
pub fn session_key(key: &KeyExpr<'_>) -> KeyExpr<'static> {
    key.join("@session")
        .expect("a valid key joined with @session")
        .into_owned()
}

/// `a` comes before `b`, by wrapping distance.
#[inline]
pub fn before(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) > 0
}

/// A query: for frames `from..to` (history) or the session (then `from`
/// and `to` are 0), with the asker's nonce and tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// History or session.
    pub kind: Kind,
    /// First sequence wanted.
    pub from: u64,
    /// One past the last.
    pub to: u64,
    /// The asker's nonce: every reply carries it.
    pub nonce: [u8; NONCE_LEN],
}

impl Query {
    /// A history query for `from..to` with a fresh nonce.
    pub fn history(from: u64, to: u64) -> Query {
        Query {
            kind: Kind::HistoryQuery,
            from,
            to,
            nonce: fresh_nonce(),
        }
    }

    /// A session query with a fresh nonce.
    pub fn session() -> Query {
        Query {
            kind: Kind::SessionQuery,
            from: 0,
            to: 0,
            nonce: fresh_nonce(),
        }
    }

    /// Sequences asked for.
    pub fn count(&self) -> u64 {
        self.to.wrapping_sub(self.from)
    }

    fn header(&self) -> Header {
        Header {
            kind: self.kind,
            session: 0,
            first: self.from,
            end: self.to,
            nonce: self.nonce,
        }
    }

    /// The selector parameters, tagged: `from=A;to=B;nonce=HEX;mac=HEX`.
    pub fn parameters(&self, auth: &AuthKey, key: &str) -> String {
        let tag = auth.tag(key, &[&self.header().encode()]);
        format!(
            "from={};to={};nonce={};mac={}",
            self.from,
            self.to,
            hex(&self.nonce),
            hex(&tag)
        )
    }

    /// Reads and authenticates a query of `kind` from its parameters.
    pub fn parse(
        auth: &AuthKey,
        key: &str,
        kind: Kind,
        parameters: &zenoh::query::Parameters<'_>,
    ) -> Result<Query, QueryRefused> {
        let num = |name: &str| -> Result<u64, QueryRefused> {
            let v = parameters
                .get(name)
                .ok_or_else(|| QueryRefused::Malformed(format!("expected {name}=SEQ")))?;
            v.parse::<u64>().map_err(|_| {
                QueryRefused::Malformed(format!("{name}={v:?}: expected a sequence number"))
            })
        };
        let nonce = parameters
            .get("nonce")
            .and_then(unhex::<NONCE_LEN>)
            .ok_or_else(|| QueryRefused::Malformed("expected nonce=32 hex digits".into()))?;
        let tag = parameters
            .get("mac")
            .and_then(unhex::<MAC_LEN>)
            .ok_or_else(|| QueryRefused::Malformed("expected mac=64 hex digits".into()))?;
        let q = Query {
            kind,
            from: num("from")?,
            to: num("to")?,
            nonce,
        };
        if !auth.check(key, &[&q.header().encode()], &tag) {
            return Err(QueryRefused::Tag);
        }
        if q.count() > MAX_RANGE {
            return Err(QueryRefused::Endless {
                from: q.from,
                to: q.to,
            });
        }
        Ok(q)
    }
}

/// Why a query is not answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryRefused {
    /// Parameters missing or not numbers: not from a bridge.
    #[error("unauthenticated query (malformed: {0})")]
    Malformed(String),
    /// The tag does not hold.
    #[error("unauthenticated query: the tag does not match (not sent with this stream's key)")]
    Tag,
    /// Authenticated, but longer than any range can be.
    #[error(
        "from={from} to={to}: a range longer than 2^62 sequences (or reversed) is not answered"
    )]
    Endless {
        /// As asked.
        from: u64,
        /// As asked.
        to: u64,
    },
}

/// A random nonce.
pub fn fresh_nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    // The kernel's random source does not fail once seeded; were it to, a
    // clock-based nonce still differs from every earlier one.
    if getrandom::fill(&mut n).is_err() {
        let t =
            forge_fabric::clock::monotonic_ns() ^ forge_fabric::clock::unix_ns().rotate_left(32);
        n[..8].copy_from_slice(&t.to_le_bytes());
        n[8..].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    }
    n
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "forge/a";

    fn auth() -> AuthKey {
        AuthKey::secret(&[3; 32])
    }

    fn frame(seq: u64, len: usize) -> Vec<u8> {
        let mut f = vec![(seq % 251) as u8; len.max(SEQUENCE_LEN)];
        f[..8].copy_from_slice(&seq.to_le_bytes());
        f.truncate(len.max(SEQUENCE_LEN));
        f
    }

    /// Packs `frames` (consecutive from `first`) as `out` does; returns the
    /// sealed packs.
    fn pack_all(limit: usize, first: u64, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut p = Packer::new(limit);
        let mut packs = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let seq = first.wrapping_add(i as u64);
            if !p.fits(seq, f.len()) {
                packs.extend(p.seal(&auth(), KEY, Kind::Frames, 9, [0; 16]));
            }
            p.push(seq, f);
        }
        packs.extend(p.seal(&auth(), KEY, Kind::Frames, 9, [0; 16]));
        packs
    }

    proptest! {
        #[test]
        fn packing_then_unpacking_gives_every_frame_in_order_within_the_bound(
            sizes in proptest::collection::vec(8usize..=MAX_FRAME, 1..200),
            limit in 100usize..70_000,
            first in any::<u64>(),
        ) {
            let sent: Vec<Vec<u8>> = sizes.iter().enumerate()
                .map(|(i, &n)| frame(first.wrapping_add(i as u64), n)).collect();
            let packs = pack_all(limit, first, &sent);
            let mut got = Vec::new();
            let mut expect_first = first;
            for pack in &packs {
                let m = open(&auth(), KEY, pack).unwrap();
                prop_assert_eq!(m.header.first, expect_first);
                // Within the bound, unless one frame alone exceeds it.
                prop_assert!(pack.len() <= limit.max(HEADER_LEN + MAC_LEN + RECORD_LEN)
                    || m.header.count() == 1);
                for (seq, f) in frames(&m) {
                    prop_assert_eq!(frame_sequence(f), Some(seq));
                    got.push(f.to_vec());
                }
                expect_first = m.header.end;
            }
            prop_assert_eq!(got, sent);
        }

        #[test]
        fn any_changed_byte_makes_a_pack_fail(
            n in 1usize..20, at in any::<prop::sample::Index>(), bit in 0u8..8,
        ) {
            let sent: Vec<Vec<u8>> = (0..n).map(|i| frame(i as u64, 40)).collect();
            let mut pack = pack_all(1 << 16, 0, &sent).pop().unwrap();
            let i = at.index(pack.len());
            pack[i] ^= 1 << bit;
            prop_assert!(open(&auth(), KEY, &pack).is_err());
        }

        #[test]
        fn random_bytes_never_open_and_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert!(open(&auth(), KEY, &bytes).is_err());
        }
    }

    #[test]
    fn a_frame_as_large_as_a_slot_travels_alone_under_any_bound() {
        let big = frame(5, MAX_FRAME);
        for limit in [0, 100, MAX_FRAME, DEFAULT_PACK_BYTES] {
            let packs = pack_all(limit, 5, &[big.clone(), big.clone()]);
            let total: u64 = packs
                .iter()
                .map(|p| open(&auth(), KEY, p).unwrap().header.count())
                .sum();
            assert_eq!(total, 2);
            if limit < 2 * MAX_FRAME {
                assert_eq!(packs.len(), 2, "limit {limit}");
            }
        }
    }

    #[test]
    fn a_sequence_jump_starts_a_new_pack() {
        let mut p = Packer::new(1 << 16);
        p.push(10, &frame(10, 16));
        assert!(p.fits(11, 16));
        assert!(!p.fits(13, 16));
        p.push(11, &frame(11, 16));
        let pack = p.seal(&auth(), KEY, Kind::Frames, 1, [0; 16]).unwrap();
        let m = open(&auth(), KEY, &pack).unwrap();
        assert_eq!((m.header.first, m.header.end), (10, 12));
        assert!(p.is_empty());
        assert!(p.seal(&auth(), KEY, Kind::Frames, 1, [0; 16]).is_none());
    }

    #[test]
    fn a_message_is_bound_to_its_stream_key_and_its_claims() {
        let pack = pack_all(1 << 16, 0, &[frame(0, 32)]).pop().unwrap();
        assert!(open(&auth(), KEY, &pack).is_ok());
        assert_eq!(open(&auth(), "forge/b", &pack).unwrap_err(), Rejected::Tag);
        assert_eq!(
            open(&AuthKey::public(), KEY, &pack).unwrap_err(),
            Rejected::Tag
        );
        // A header claiming one more frame than the records hold, tagged
        // by a key holder, is still refused.
        let h = Header {
            kind: Kind::Frames,
            session: 9,
            first: 0,
            end: 2,
            nonce: [0; 16],
        };
        let body = &pack[HEADER_LEN..pack.len() - MAC_LEN];
        let mut forged = [&h.encode()[..], body].concat();
        let tag = auth().tag(KEY, &[&forged]);
        forged.extend_from_slice(&tag);
        assert!(matches!(
            open(&auth(), KEY, &forged),
            Err(Rejected::Body(_))
        ));
    }

    #[test]
    fn empty_messages_and_statuses_carry_their_claims() {
        let h = Header {
            kind: Kind::Gone,
            session: 4,
            first: 10,
            end: 20,
            nonce: [9; 16],
        };
        let m = seal_empty(&auth(), KEY, &h);
        assert_eq!(open(&auth(), KEY, &m).unwrap().header, h);
        let json = br#"{"mode":"out"}"#;
        let s = Header {
            kind: Kind::OutStatus,
            ..h
        };
        let att = status_attachment(&auth(), KEY, &s, json);
        assert_eq!(open_status(&auth(), KEY, json, &att).unwrap(), s);
        assert_eq!(
            open_status(&auth(), KEY, br#"{"mode":"in"}"#, &att).unwrap_err(),
            Rejected::Tag
        );
    }

    #[test]
    fn queries_round_trip_and_unauthenticated_or_endless_ones_are_refused() {
        let q = Query::history(5, 9);
        let p = q.parameters(&auth(), KEY);
        let params = zenoh::query::Parameters::from(p.as_str());
        assert_eq!(
            Query::parse(&auth(), KEY, Kind::HistoryQuery, &params).unwrap(),
            q
        );
        // Another kind, another key, no key.
        assert!(Query::parse(&auth(), KEY, Kind::SessionQuery, &params).is_err());
        assert!(Query::parse(&auth(), "forge/b", Kind::HistoryQuery, &params).is_err());
        assert!(Query::parse(&AuthKey::public(), KEY, Kind::HistoryQuery, &params).is_err());
        // Over 2^64 positions (reversed): refused even when tagged.
        let endless = Query::history(1, 0);
        let p = endless.parameters(&auth(), KEY);
        let e = Query::parse(
            &auth(),
            KEY,
            Kind::HistoryQuery,
            &zenoh::query::Parameters::from(p.as_str()),
        )
        .unwrap_err();
        assert!(matches!(e, QueryRefused::Endless { from: 1, to: 0 }), "{e}");
        assert!(e.to_string().contains("2^62"));
        for bad in ["", "from=1;to=2", "from=x;to=2;nonce=00;mac=00"] {
            let params = zenoh::query::Parameters::from(bad);
            assert!(Query::parse(&auth(), KEY, Kind::HistoryQuery, &params).is_err());
        }
        assert_ne!(Query::session().nonce, Query::session().nonce);
    }

    #[test]
    fn sequences_compare_across_the_wrap() {
        assert!(before(u64::MAX - 1, 2));
        assert!(!before(2, u64::MAX - 1));
        assert!(!before(7, 7));
    }

    #[test]
    fn the_status_history_and_session_keys_hang_under_the_stream_key() {
        let key = KeyExpr::try_from("forge/a").unwrap();
        assert_eq!(status_key(&key).as_str(), "forge/a/@status");
        assert_eq!(history_key(&key).as_str(), "forge/a/@history");
        assert_eq!(session_key(&key).as_str(), "forge/a/@session");
    }
}
