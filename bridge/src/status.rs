//! What a bridge has done, counted where it happens and published as JSON
//! on `KEY/@status` once a second (and printed at exit).
//!
//! The counters are relaxed atomics: each is written by the one thread that
//! does the work and read by the status thread, and no other data hangs on
//! them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zenoh::key_expr::KeyExpr;
use zenoh::{Session, Wait};

/// How often the status goes out.
pub const STATUS_PERIOD: Duration = Duration::from_secs(1);

/// The counters of one bridge.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames published (`out`) or written into the ring (`in`).
    pub frames: AtomicU64,
    /// Their bytes.
    pub bytes: AtomicU64,
    /// One past the last sequence published (`out`) or written (`in`).
    pub next_sequence: AtomicU64,
    /// Frames waiting in the ring: not yet published (`out`), not yet read
    /// by the far consumer (`in`).
    pub backlog: AtomicU64,
    /// `in`: frames written that came from the sender's history.
    pub recovered: AtomicU64,
    /// `in`: frames lost for good (gaps the history could not fill).
    pub lost: AtomicU64,
    /// `in`: ranges lost for good.
    pub gaps: AtomicU64,
    /// Samples, replies and queries whose MAC failed or that are not
    /// bridge messages at all: dropped, nothing else done.
    pub unauthenticated: AtomicU64,
    /// `in`: frames of an origin session not confirmed yet by the sender
    /// (dropped, asked from the history once confirmed).
    pub unconfirmed: AtomicU64,
    /// `in`: authenticated replies to no query under way (replayed), or
    /// messages where they do not belong. `out`: queries seen before.
    pub replayed: AtomicU64,
    /// `in`: times the far ring was replaced for a new origin session.
    pub replaced: AtomicU64,
    /// `in`: bytes of frames waiting beyond a hole.
    pub pending_bytes: AtomicU64,
    /// `in`: the bound on those bytes.
    pub pending_limit: AtomicU64,
    /// Samples published (`out`) or received (`in`) with frames.
    pub packs: AtomicU64,
    /// `in`: frames dropped as already written.
    pub duplicates: AtomicU64,
    /// `in`: frames of an origin session it already moved on from.
    pub stale: AtomicU64,
    /// `in`: frames buffered while a recovery is under way.
    pub pending: AtomicU64,
    /// `in`: history queries sent. `out`: history queries answered.
    pub queries: AtomicU64,
    /// `out`: frames the history holds.
    pub history_frames: AtomicU64,
    /// `out`: bytes the history holds.
    pub history_bytes: AtomicU64,
    /// `out`: frames that did not decode in the local ring, not published.
    pub corrupt: AtomicU64,
    /// The origin session relayed (`in`) or published (`out`).
    pub origin_session: AtomicU64,
    /// The local ring's session.
    pub ring_session: AtomicU64,
    /// `out`: some subscriber matches the key.
    pub matching: AtomicBool,
}

impl Counters {
    /// Adds `n` to a counter.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        // SYNC: a counter; the status thread's Relaxed loads pair with
        // nothing, it only reports.
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets a gauge.
    #[inline]
    pub fn set(gauge: &AtomicU64, v: u64) {
        // SYNC: as in `add`.
        gauge.store(v, Ordering::Relaxed);
    }

    fn get(c: &AtomicU64) -> u64 {
        // SYNC: as in `add`.
        c.load(Ordering::Relaxed)
    }
}

/// One status message. Field names are part of the interface: scripts and
/// the far `in` bridge read them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Always "forge-bridge".
    pub program: String,
    /// "out" or "in".
    pub mode: String,
    /// The stream's key.
    pub key: String,
    /// The local segment.
    pub segment: String,
    /// The local ring's session, hex.
    pub ring_session: String,
    /// The origin session of the frames relayed, hex (`out`: its ring's).
    pub origin_session: String,
    /// The origin session as a number, for the status's own tag. Not in
    /// the JSON: a u64 past 2^53 is not exact in common JSON tools (jq
    /// rounds it); `origin_session` is the one to read.
    #[serde(skip)]
    pub origin_session_id: u64,
    /// Process id and Zenoh id of the bridge.
    pub pid: u32,
    /// Zenoh id of the bridge's session.
    pub zid: String,
    /// Zenoh peers and routers this session is connected to.
    pub peers: u64,
    /// Frames published (`out`) or written (`in`).
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// One past the last sequence published or written.
    pub next_sequence: u64,
    /// Frames waiting in the local ring.
    pub backlog: u64,
    /// `in`: frames recovered from the sender's history.
    pub recovered: u64,
    /// `in`: frames lost for good.
    pub lost: u64,
    /// `in`: ranges lost for good.
    pub gaps: u64,
    /// Messages whose MAC failed, or not bridge messages: dropped.
    pub unauthenticated: u64,
    /// `in`: frames of a session the sender has not confirmed yet.
    pub unconfirmed: u64,
    /// Authenticated messages replayed or misplaced (`in`), queries seen
    /// before (`out`): dropped.
    pub replayed: u64,
    /// `in`: times the far ring was replaced.
    pub replaced: u64,
    /// `in`: bytes of frames waiting beyond a hole.
    pub pending_bytes: u64,
    /// `in`: the bound on them (--max-pending).
    pub pending_limit: u64,
    /// Samples with frames, published or received.
    pub packs: u64,
    /// Samples carry a MAC under a secret key (`--auth-key`).
    pub authenticated: bool,
    /// `in`: duplicates dropped.
    pub duplicates: u64,
    /// `in`: frames of an older origin session dropped.
    pub stale: u64,
    /// `in`: frames buffered during a recovery.
    pub pending: u64,
    /// History queries sent (`in`) or answered (`out`).
    pub queries: u64,
    /// `out`: frames in the history.
    pub history_frames: u64,
    /// `out`: bytes in the history.
    pub history_bytes: u64,
    /// `out`: frames of the local ring that did not decode.
    pub corrupt: u64,
    /// `out`: a subscriber matches the key (else it waits).
    pub matching: bool,
    /// Seconds since start.
    pub uptime_s: f64,
    /// "running", or how the run ended (in the final report).
    pub end: String,
}

/// What the status describes besides the counters.
#[derive(Debug, Clone)]
pub struct Identity {
    /// "out" or "in".
    pub mode: &'static str,
    /// The stream key.
    pub key: String,
    /// The local segment.
    pub segment: String,
    /// The Zenoh id.
    pub zid: String,
    /// The key the status is tagged with.
    pub auth: forge_bridge::auth::AuthKey,
}

impl Status {
    /// The status as of now.
    pub fn now(who: &Identity, c: &Counters, peers: u64, started: Instant) -> Status {
        let get = Counters::get;
        let origin = get(&c.origin_session);
        Status {
            program: "forge-bridge".into(),
            mode: who.mode.into(),
            key: who.key.clone(),
            segment: who.segment.clone(),
            ring_session: forge_cli::human::session(get(&c.ring_session)),
            origin_session: forge_cli::human::session(origin),
            origin_session_id: origin,
            pid: std::process::id(),
            zid: who.zid.clone(),
            peers,
            frames: get(&c.frames),
            bytes: get(&c.bytes),
            next_sequence: get(&c.next_sequence),
            backlog: get(&c.backlog),
            recovered: get(&c.recovered),
            lost: get(&c.lost),
            gaps: get(&c.gaps),
            unauthenticated: get(&c.unauthenticated),
            unconfirmed: get(&c.unconfirmed),
            replayed: get(&c.replayed),
            replaced: get(&c.replaced),
            pending_bytes: get(&c.pending_bytes),
            pending_limit: get(&c.pending_limit),
            packs: get(&c.packs),
            authenticated: who.auth.is_secret(),
            duplicates: get(&c.duplicates),
            stale: get(&c.stale),
            pending: get(&c.pending),
            queries: get(&c.queries),
            history_frames: get(&c.history_frames),
            history_bytes: get(&c.history_bytes),
            corrupt: get(&c.corrupt),
            // SYNC: a flag for the report only.
            matching: c.matching.load(Ordering::Relaxed),
            uptime_s: started.elapsed().as_secs_f64(),
            end: "running".into(),
        }
    }

    /// One line of JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a status encodes")
    }
}

/// Publishes the status on `key` every [`STATUS_PERIOD`] until `stop` is
/// set; a thread, so a bridge blocked on a full ring still reports. Each
/// status is tagged (see [`forge_bridge::wire::status_attachment`]) over the
/// stream key `stream`: its origin session and next sequence are claims
/// `in` acts on.
pub fn spawn(
    session: Session,
    key: KeyExpr<'static>,
    stream: String,
    who: Identity,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let started = Instant::now();
    std::thread::Builder::new()
        .name("status".into())
        .spawn(move || {
            let publisher = match session.declare_publisher(key.clone()).wait() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!(
                        "forge-bridge {}: warning: no status on {key}: {e}",
                        who.mode
                    );
                    return;
                }
            };
            // SYNC: a flag; the thread's own work hangs on nothing else.
            while !stop.load(Ordering::Relaxed) {
                let peers = session
                    .info()
                    .peers_zid()
                    .wait()
                    .chain(session.info().routers_zid().wait())
                    .count() as u64;
                let status = Status::now(&who, &counters, peers, started);
                let json = status.json();
                let header = forge_bridge::wire::Header {
                    kind: if who.mode == "out" {
                        forge_bridge::wire::Kind::OutStatus
                    } else {
                        forge_bridge::wire::Kind::InStatus
                    },
                    session: status.origin_session_id,
                    first: 0,
                    end: status.next_sequence,
                    nonce: [0; forge_bridge::wire::NONCE_LEN],
                };
                let tag = forge_bridge::wire::status_attachment(
                    &who.auth,
                    &stream,
                    &header,
                    json.as_bytes(),
                );
                if let Err(e) = publisher.put(json).attachment(tag).wait() {
                    eprintln!("forge-bridge {}: warning: status not sent: {e}", who.mode);
                }
                let until = Instant::now() + STATUS_PERIOD;
                // SYNC: as above.
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_round_trips_through_json_with_every_documented_field() {
        let c = Counters::default();
        Counters::add(&c.frames, 3);
        Counters::set(&c.origin_session, 0xabc);
        let who = Identity {
            mode: "in",
            key: "forge/a".into(),
            segment: "/forge_b".into(),
            zid: "1234".into(),
            auth: forge_bridge::auth::AuthKey::public(),
        };
        let s = Status::now(&who, &c, 2, Instant::now());
        let v: serde_json::Value = serde_json::from_str(&s.json()).unwrap();
        for key in [
            "frames",
            "bytes",
            "backlog",
            "peers",
            "recovered",
            "lost",
            "unauthenticated",
            "unconfirmed",
            "replayed",
            "replaced",
            "pending_limit",
            "duplicates",
            "origin_session",
            "next_sequence",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["frames"], 3);
        assert_eq!(v["peers"], 2);
        // Sessions are hex strings only: jq would round a u64.
        assert_eq!(v["origin_session"], "0x0000000000000abc");
        assert!(v.get("origin_session_id").is_none());
        let back: Status = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(
            Status {
                origin_session_id: s.origin_session_id,
                ..back
            },
            s
        );
    }
}
