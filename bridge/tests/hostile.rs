//! A stranger on the stream's key: a Zenoh session in the test, on the same
//! link as the bridges, that sniffs everything it can and tries what the
//! issue's attacker did, with everything short of the key.
//!
//! forge-stream → ring → out ══ Zenoh ══ in → ring → forge-core --verify,
//! all with `--auth-key`; the stranger listens where `in` connects and
//! connects to `out`, publishes on KEY and KEY/@status, answers queries on
//! KEY/@history and KEY/@session, and queries `out`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_says, Bin, Proc, Rig};
use forge_bridge::auth::AuthKey;
use forge_bridge::wire::{self, Header, Kind, Packer, Query};
use zenoh::Wait;

/// A Zenoh session of the test's own.
fn session(listen: &[&str], connect: &[&str]) -> zenoh::Session {
    let mut config = zenoh::Config::default();
    let list = |v: &[&str]| serde_json::to_string(v).unwrap();
    for (k, v) in [
        ("listen/endpoints", list(listen)),
        ("connect/endpoints", list(connect)),
        ("scouting/multicast/enabled", "false".into()),
    ] {
        config.insert_json5(k, &v).unwrap();
    }
    zenoh::open(config).wait().unwrap()
}

/// What the stranger captured: payloads (and attachments) as sent.
#[derive(Default)]
struct Captured {
    packs: Vec<Vec<u8>>,
    statuses: Vec<(Vec<u8>, Vec<u8>, serde_json::Value)>,
}

type Capture = Arc<Mutex<Captured>>;

/// Subscribes `s` to KEY and KEY/@status, keeping up to 40 packs and
/// every status.
fn sniff(s: &zenoh::Session, key: &str) -> (Capture, Vec<zenoh::pubsub::Subscriber<()>>) {
    let cap: Capture = Arc::default();
    let c = cap.clone();
    let packs = s
        .declare_subscriber(key.to_owned())
        .callback(move |sample| {
            let mut c = c.lock().unwrap();
            if c.packs.len() < 40 {
                c.packs.push(sample.payload().to_bytes().into_owned());
            }
        })
        .wait()
        .unwrap();
    let c = cap.clone();
    let statuses = s
        .declare_subscriber(format!("{key}/@status"))
        .callback(move |sample| {
            let payload = sample.payload().to_bytes().into_owned();
            let att = sample
                .attachment()
                .map(|a| a.to_bytes().into_owned())
                .unwrap_or_default();
            let json = serde_json::from_slice(&payload).unwrap_or_default();
            c.lock().unwrap().statuses.push((payload, att, json));
        })
        .wait()
        .unwrap();
    (cap, vec![packs, statuses])
}

/// Polls `cond` on the capture until it holds (at most 60 s).
fn wait_capture(
    rig: &mut Rig,
    cap: &Capture,
    what: &str,
    watch: &[Proc],
    cond: impl Fn(&Captured) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond(&cap.lock().unwrap()) {
        for &p in watch {
            assert!(
                rig.running(p),
                "a process exited while waiting for {what}:\n{}",
                rig.stderr(p)
            );
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The origin session a status names, from its hex string (the only
/// form the JSON gives: jq would round a u64).
fn session_of(status: &serde_json::Value) -> u64 {
    let hex = status["origin_session"]
        .as_str()
        .expect("origin_session is a string");
    forge_fabric::vocab::parse_session(hex).expect("origin_session is hex")
}

/// The origin session and range a genuine pack claims.
fn claims(pack: &[u8]) -> Header {
    Header::decode(pack).unwrap()
}

/// One valid Forge frame (its own checksum holds).
fn valid_frame(seq: u64) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    let n =
        forge_frame::encode(&mut buf, seq, 1, 1, forge_frame::FrameKind::Log, b"spoofed").unwrap();
    buf.truncate(n);
    buf
}

/// A pack of one frame, tagged with `auth` (a key that is not the stream's).
fn forged_pack(auth: &AuthKey, key: &str, session: u64, seq: u64) -> Vec<u8> {
    let mut p = Packer::new(wire::DEFAULT_PACK_BYTES);
    p.push(seq, &valid_frame(seq));
    p.seal(auth, key, Kind::Frames, session, [0; 16]).unwrap()
}

fn out_args<'a>(seg: &'a str, key: &'a str, ep: &'a str, keyfile: &'a str) -> Vec<&'a str> {
    vec![
        "out",
        "--segment",
        seg,
        "--key",
        key,
        "--auth-key",
        keyfile,
        "--listen",
        ep,
        "--no-multicast-scouting",
        "--wait",
        "yield",
    ]
}

fn in_args<'a>(
    seg: &'a str,
    key: &'a str,
    ep: &'a str,
    third: &'a str,
    keyfile: &'a str,
) -> Vec<&'a str> {
    vec![
        "in",
        "--segment",
        seg,
        "--init",
        "--key",
        key,
        "--auth-key",
        keyfile,
        "--connect",
        ep,
        "--connect",
        third,
        "--no-multicast-scouting",
        "--wait",
        "yield",
    ]
}

#[test]
fn a_hostile_peer_changes_nothing_and_every_rejection_is_counted() {
    const N: u64 = 60_000;
    let mut rig = Rig::new("hostile");
    let pid = std::process::id();
    let key = format!("forge/test/hostile/{pid}");
    let keyfile = rig.keyfile("stream");
    let (ep_old, ep, third) = (
        Rig::endpoint(26_000, 0),
        Rig::endpoint(26_000, 1),
        Rig::endpoint(26_000, 2),
    );
    let t = Duration::from_secs(30);

    // 1. An older origin session on the same key and key, sniffed.
    let old = rig.segment("old");
    rig.run(Bin::Init, &["--segment", &old], t).expect_code(0);
    let out_old = rig.spawn(Bin::Bridge, &out_args(&old, &key, &ep_old, &keyfile));
    let spy = session(&[], &[&ep_old]);
    let (old_cap, subs) = sniff(&spy, &key);
    let old_stream = rig.spawn(
        Bin::Stream,
        &[
            "--segment",
            &old,
            "--count",
            "3000",
            "--size",
            "32-256",
            "--rate",
            "20000",
            "--wait",
            "yield",
        ],
    );
    rig.wait(old_stream, Duration::from_secs(60)).expect_code(0);
    wait_capture(
        &mut rig,
        &old_cap,
        "the old session's packs and status",
        &[out_old],
        |c| c.packs.len() >= 5 && c.statuses.iter().any(|s| s.2["mode"] == "out"),
    );
    rig.stop(out_old, t).expect_code(0);
    drop(subs);
    let _ = spy.close().wait();
    let old_cap = std::mem::take(&mut *old_cap.lock().unwrap());
    let old_session = claims(&old_cap.packs[0]).session;

    // 2. The stream under attack.
    let origin = rig.segment("origin");
    let far = rig.segment("far");
    rig.run(Bin::Init, &["--segment", &origin], t)
        .expect_code(0);
    let out = rig.spawn(Bin::Bridge, &out_args(&origin, &key, &ep, &keyfile));
    let stranger = session(&[&third], &[&ep]);
    let (cap, _subs) = sniff(&stranger, &key);
    // Its own history and session "answers" to every query it sees:
    // forged (another key) or misplaced (a genuine live pack).
    let wrong = AuthKey::secret(&[0x55; 32]);
    let forged_answers = Arc::new(Mutex::new(0u64));
    let queryables: Vec<_> = ["@history", "@session"]
        .into_iter()
        .map(|suffix| {
            let (wrong, key, cap, n) = (
                wrong.clone(),
                key.clone(),
                cap.clone(),
                forged_answers.clone(),
            );
            let qkey = format!("{key}/{suffix}");
            stranger
                .declare_queryable(qkey.clone())
                .callback(move |q| {
                    let num = |k: &str| {
                        q.parameters()
                            .get(k)
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    let mut nonce = [0u8; 16];
                    if let Some(hex) = q.parameters().get("nonce") {
                        for (i, b) in nonce.iter_mut().enumerate() {
                            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16)
                                .unwrap_or(0);
                        }
                    }
                    let session = cap
                        .lock()
                        .unwrap()
                        .packs
                        .first()
                        .map_or(1, |p| claims(p).session);
                    let forged = |kind, s, first, end| {
                        wire::seal_empty(
                            &wrong,
                            &key,
                            &Header {
                                kind,
                                session: s,
                                first,
                                end,
                                nonce,
                            },
                        )
                    };
                    let mut replies = vec![
                        forged(Kind::Gone, session, num("from"), num("to")),
                        forged(Kind::Session, 0xbad, 0, 0),
                    ];
                    replies.extend(cap.lock().unwrap().packs.first().cloned());
                    for r in replies {
                        let _ = q.reply(qkey.clone(), r).wait();
                        *n.lock().unwrap() += 1;
                    }
                })
                .wait()
                .unwrap()
        })
        .collect();
    let inb = rig.spawn(Bin::Bridge, &in_args(&far, &key, &ep, &third, &keyfile));
    let in_pid = rig.pid(inb);
    rig.wait_for("in to hold the far ring", &far, &[out, inb], t, |s| {
        s.producer.pid == in_pid
    });
    // `in` follows the session `out` named (its status says which).
    let current = {
        wait_capture(&mut rig, &cap, "out's status", &[out, inb], |c| {
            c.statuses.iter().any(|s| s.2["mode"] == "out")
        });
        let c = cap.lock().unwrap();
        session_of(&c.statuses.iter().find(|s| s.2["mode"] == "out").unwrap().2)
    };
    wait_capture(
        &mut rig,
        &cap,
        "in to follow the origin",
        &[out, inb],
        |c| {
            c.statuses
                .iter()
                .any(|s| s.2["mode"] == "in" && session_of(&s.2) == current)
        },
    );
    let far_session = rig.snapshot(&far).identity.session_id;
    let core = rig.spawn(
        Bin::Core,
        &[
            "--segment",
            &far,
            "--count",
            &N.to_string(),
            "--verify",
            "--report",
            "json",
            "--wait",
            "yield",
        ],
    );
    let sent = rig.spawn(
        Bin::Stream,
        &[
            "--segment",
            &origin,
            "--count",
            &N.to_string(),
            "--size",
            "32-512",
            "--rate",
            "30000",
            "--wait",
            "yield",
        ],
    );
    rig.wait_for(
        "frames to flow",
        &far,
        &[inb, out, core],
        Duration::from_secs(60),
        |s| s.head >= 3_000,
    );
    // A receiver restarted mid-stream asks the history for what it missed:
    // the stranger answers those queries too.
    rig.kill9(inb);
    let inb = rig.spawn(Bin::Bridge, &in_args(&far, &key, &ep, &third, &keyfile));
    let in_pid = rig.pid(inb);
    rig.wait_for(
        "the new in to hold the far ring",
        &far,
        &[out, inb],
        t,
        |s| s.producer.pid == in_pid,
    );
    // Its status reaching the stranger says the link to it is up (its
    // subscriptions went first) and which session it follows.
    wait_capture(
        &mut rig,
        &cap,
        "the new in to follow the origin",
        &[out, inb],
        |c| {
            c.statuses
                .iter()
                .any(|s| s.2["mode"] == "in" && s.2["pid"] == in_pid && session_of(&s.2) == current)
        },
    );
    wait_capture(
        &mut rig,
        &cap,
        "genuine packs of this session",
        &[out, inb],
        |c| c.packs.len() >= 10,
    );
    let genuine = cap.lock().unwrap().packs.clone();
    let last = genuine.iter().map(|p| claims(p).end).max().unwrap();
    let genuine_status = {
        let c = cap.lock().unwrap();
        c.statuses
            .iter()
            .find(|s| s.2["mode"] == "out")
            .cloned()
            .unwrap()
    };

    // Blocking congestion control: Zenoh's default for a put drops it
    // when the link is busy, and every put here must arrive to be counted.
    let put = |k: &str, payload: Vec<u8>, attachment: Option<Vec<u8>>| {
        let b = stranger
            .put(k.to_owned(), payload)
            .congestion_control(zenoh::qos::CongestionControl::Block);
        match attachment {
            Some(a) => b.attachment(a).wait().unwrap(),
            None => b.wait().unwrap(),
        }
    };
    let status_key = format!("{key}/@status");
    let mut forged = 0u64;
    // Garbage.
    put(&key, b"not a bridge message at all".to_vec(), None);
    put(&key, (0..200u8).collect(), None);
    forged += 2;
    // Spoof 1: out's status, a million frames ahead, unsigned and signed
    // with another key.
    let mut fake = genuine_status.2.clone();
    fake["next_sequence"] = (last + 1_000_000).into();
    let fake = serde_json::to_vec(&fake).unwrap();
    let claim = Header {
        kind: Kind::OutStatus,
        session: current,
        first: 0,
        end: last + 1_000_000,
        nonce: [0; 16],
    };
    put(&status_key, fake.clone(), None);
    put(
        &status_key,
        fake.clone(),
        Some(wire::status_attachment(&wrong, &key, &claim, &fake)),
    );
    forged += 2;
    // Spoof 2: a valid frame 1,000 ahead in the sniffed session, tagged
    // with another key and with the public one.
    put(&key, forged_pack(&wrong, &key, current, last + 1000), None);
    put(
        &key,
        forged_pack(&AuthKey::public(), &key, current, last + 1000),
        None,
    );
    forged += 2;
    // Spoof 3: a valid frame of another origin session.
    put(&key, forged_pack(&wrong, &key, 0x5eed_5eed, 0), None);
    forged += 1;
    // Replays: genuine packs and statuses of this session and the old one.
    let replayed_now: u64 = genuine.iter().map(|p| claims(p).count()).sum();
    for p in &genuine {
        put(&key, p.clone(), None);
    }
    put(
        &status_key,
        genuine_status.0.clone(),
        Some(genuine_status.1.clone()),
    );
    // The old session is unknown to `in` at first: its frames are dropped
    // as unconfirmed while `in` asks `out`, whose answer makes it stale;
    // replayed again, they are dropped as stale at once. The answer may
    // come while the first replay is still arriving, so some of it may
    // already be stale: the two counts together grow by all of it.
    let replayed_old: u64 = old_cap.packs.iter().map(|p| claims(p).count()).sum();
    let dropped_old = |s: &serde_json::Value| {
        s["unconfirmed"].as_u64().unwrap_or(0) + s["stale"].as_u64().unwrap_or(0)
    };
    let (before, dropped_before) = {
        let c = cap.lock().unwrap();
        let last_in = c
            .statuses
            .iter()
            .rev()
            .find(|s| s.2["mode"] == "in" && s.2["pid"] == in_pid);
        (c.statuses.len(), last_in.map_or(0, |s| dropped_old(&s.2)))
    };
    for p in &old_cap.packs {
        put(&key, p.clone(), None);
    }
    for (payload, att, _) in &old_cap.statuses {
        put(&status_key, payload.clone(), Some(att.clone()));
    }
    wait_capture(
        &mut rig,
        &cap,
        "in to count the unconfirmed frames",
        &[out, inb],
        |c| {
            c.statuses[before..].iter().any(|s| {
                s.2["mode"] == "in"
                    && s.2["pid"] == in_pid
                    && s.2["unconfirmed"].as_u64() > Some(0)
                    && dropped_old(&s.2) >= dropped_before + replayed_old
            })
        },
    );
    std::thread::sleep(Duration::from_millis(200));
    for p in &old_cap.packs {
        put(&key, p.clone(), None);
    }
    // Queries to `out`: over 2^64 positions unsigned, signed with another
    // key, and signed with the stream's key (refused as endless).
    let stream_key = AuthKey::load(std::path::Path::new(&keyfile)).unwrap();
    let endless = Query::history(1, 0);
    let mut refusals = Vec::new();
    for (auth, unsigned) in [(&wrong, true), (&wrong, false), (&stream_key, false)] {
        let params = if unsigned {
            "from=1;to=0".to_owned()
        } else {
            endless.parameters(auth, &key)
        };
        let replies = stranger
            .get(format!("{key}/@history?{params}"))
            .timeout(Duration::from_secs(5))
            .wait()
            .unwrap();
        while let Ok(r) = replies.recv() {
            match r.result() {
                Ok(_) => {}
                Err(e) => {
                    refusals.push(e.payload().try_to_string().unwrap_or_default().into_owned())
                }
            }
        }
    }
    assert!(
        refusals.iter().any(|r| r.contains("unauthenticated")),
        "{refusals:?}"
    );
    assert!(refusals.iter().any(|r| r.contains("2^62")), "{refusals:?}");

    rig.wait(sent, Duration::from_secs(120)).expect_code(0);
    let got = rig.wait(core, Duration::from_secs(60));
    got.expect_code(0);
    let report = got.json();
    assert_eq!(report["frames"], N, "{report}");
    assert_eq!(report["gaps"], 0, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    assert_eq!(report["corrupt"], 0, "{report}");
    assert_eq!(report["first_sequence"], 0, "{report}");
    assert_eq!(
        rig.snapshot(&far).identity.session_id,
        far_session,
        "the far ring was replaced"
    );

    let stopped = rig.stop(inb, t);
    stopped.expect_code(0);
    let status = stopped.json();
    assert!(
        status["unauthenticated"].as_u64().unwrap() >= forged,
        "{status}"
    );
    assert!(
        status["duplicates"].as_u64().unwrap() >= replayed_now,
        "{status}"
    );
    assert!(
        status["stale"].as_u64().unwrap() >= replayed_old,
        "{status}"
    );
    assert_eq!(status["lost"], 0, "{status}");
    assert_eq!(status["replaced"], 0, "{status}");
    assert_eq!(session_of(&status), current, "{status}");
    assert!(status.get("origin_session_id").is_none(), "{status}");
    assert_ne!(old_session, current);
    assert!(
        status["recovered"].as_u64().unwrap() > 0,
        "the restart needed the history: {status}"
    );
    assert!(
        *forged_answers.lock().unwrap() > 0,
        "the stranger answered no query"
    );
    assert_says(&rig.stderr(inb), &["the tag does not match"]);
    let out_status = rig.stop(out, t);
    out_status.expect_code(0);
    let out_status = out_status.json();
    assert!(
        out_status["unauthenticated"].as_u64().unwrap() >= 2,
        "{out_status}"
    );
    drop(queryables);
    let _ = stranger.close().wait();
}
