//! `forge-top --file`: a recording through its cursor, and an image saved
//! from a live ring by a freeze, shown with the same panels.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use forge_fabric::{CreateOptions, Segment, PAYLOAD_CAPACITY};
use forge_frame::{encode, FrameKind};
use forge_record::events::{Event as RecEvent, MissedRange, RingSample};
use forge_record::identity::{ClockPair, Holder as RecHolder, Mode, SessionIdentity};
use forge_record::writer::{RecordingWriter, WriterOptions};
use forge_top::app::{App, Config};
use forge_top::event::Event;
use forge_top::export::buffer_text;
use forge_top::model::{Seek, SeekError, SelfInfo};
use forge_top::offline::FileSource;
use forge_top::source::LiveSource;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SESSION: u64 = 0x0ff1_ce00_0000_0001;
const T0: u64 = 1_767_268_800_000_000_000;

fn identity() -> SessionIdentity {
    SessionIdentity {
        segment: "/forge_recorded".into(),
        session_id: SESSION,
        layout_version: 2,
        slot_count: 16,
        slot_size: 4104,
        payload_capacity: 4096,
        header_size: 4096,
        segment_size: 4096 + 16 * 4104,
        host: "test".into(),
        mode: Some(Mode::Tap),
        clock: ClockPair {
            unix_ns: T0,
            mono_ns: 5_000_000_000,
        },
        producer: RecHolder {
            pid: 4101,
            program: "forge-stream".into(),
            core: Some(1),
            role_state: 1,
            ..Default::default()
        },
        consumer: RecHolder {
            pid: 4102,
            program: "forge-core".into(),
            core: Some(0),
            role_state: 1,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn payload(seq: u64, mono: u64) -> Vec<u8> {
    let mut buf = vec![0u8; PAYLOAD_CAPACITY];
    let body = format!("cpu.core1.util value={}", seq % 100);
    let n = encode(
        &mut buf,
        seq,
        mono,
        4101,
        FrameKind::Metric,
        body.as_bytes(),
    )
    .unwrap();
    buf.truncate(n);
    buf
}

/// 200 frames, one ms apart; positions 50..60 missed by the tap; a ring
/// sample every 20 frames.
fn write_recording(path: &Path) {
    let mut w = RecordingWriter::create(path, WriterOptions::default()).unwrap();
    w.add_session(identity());
    for pos in 0..200u64 {
        let unix = T0 + pos * 1_000_000;
        if (50..60).contains(&pos) {
            if pos == 50 {
                let missed = MissedRange {
                    session: SESSION,
                    first_position: 50,
                    end_position: 60,
                    first_sequence: 50,
                    end_sequence: 60,
                    sequences_inferred: false,
                    reason: "lapped".into(),
                };
                w.write_event(&RecEvent::Missed(missed), unix).unwrap();
            }
            continue;
        }
        let mono = identity().clock.to_mono(unix);
        w.write_frame(SESSION, pos, 0, &payload(pos, mono), unix)
            .unwrap();
        if pos % 20 == 19 {
            let sample = RingSample {
                session: SESSION,
                at_unix_ns: unix,
                head: pos + 1,
                tail: pos.saturating_sub(3),
                producer_messages: pos + 1,
                consumer_messages: pos.saturating_sub(3),
                producer_backpressure: 0,
                consumer_backpressure: 0,
                latency_count: 0,
                latency_sum_ns: 0,
                latency_max_ns: 0,
                latency_overflow: 0,
                latency_buckets: Default::default(),
            };
            w.write_event(&RecEvent::Sample(sample), unix).unwrap();
        }
    }
    w.finish().unwrap();
}

fn render(app: &App) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| forge_top::ui::render(f, app)).unwrap();
    buffer_text(terminal.backend().buffer())
}

/// Two observations, with forge-top's own figures fixed (they are this
/// test process's, not the file's).
fn observe(app: &mut App, source: &mut FileSource) {
    for _ in 0..2 {
        let mut obs = source.sample(&app.slot_request());
        obs.me = SelfInfo {
            pid: 4242,
            cpu: Some(0),
            rss_kib: 6_100,
            ..SelfInfo::default()
        };
        app.observe(obs);
    }
}

#[test]
fn a_recording_is_read_through_its_cursor_and_shows_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.mcap");
    write_recording(&path);
    let mut source = FileSource::open(&path, false).unwrap();
    let mut app = App::new(Config::default(), (100, 30));
    observe(&mut app, &mut source);
    let text = render(&app);
    assert!(text.contains("OFFLINE RECORDING"), "{text}");
    assert!(text.contains("frame 1 of 190"), "{text}");
    assert!(text.contains("10 frames not recorded"), "{text}");

    // Jump: a sequence the recording holds, then one it missed.
    assert_eq!(
        source.seek(Seek::Sequence(63)).unwrap(),
        "cursor at frame 54 of 190, 12:00:00.063 UTC"
    );
    observe(&mut app, &mut source);
    let text = render(&app);
    let err = source.seek(Seek::Sequence(55)).unwrap_err();
    assert!(
        matches!(
            err,
            SeekError::NoSequence {
                seq: 55,
                held: Some((0, 199))
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("sequence 55 is not in the recording: it holds 0..199"),
        "{err}"
    );
    // At 63 the ring of 16 holds 48..63; 50..59 were not recorded.
    let ring = app.live.slots.iter().chain(app.live.detail.iter());
    for s in ring {
        match s.copy.position {
            Some(p) => assert!((48..=63).contains(&p) && !(50..60).contains(&p), "{s:?}"),
            None => assert_eq!(s.recording, Some(false), "{s:?}"),
        }
    }
    assert!(text.contains(" none "), "{text}");
    assert!(text.contains(" rec "), "{text}");
    assert!(text.contains("tail ≥"), "{text}");
    assert!(text.contains("consumed: not recorded"), "{text}");
    assert!(app.alarms.active.is_empty(), "{:?}", app.alarms.active);
    insta::assert_snapshot!("recording_at_sequence_63", text);

    // Seconds and frames move the cursor; the end stops play.
    source.seek(Seek::Frames(1000)).unwrap();
    observe(&mut app, &mut source);
    assert!(render(&app).contains("frame 190 of 190"));
    assert!(source.seek(Seek::TogglePlay).unwrap().contains("paused"));
}

/// Types `text` and Enter after `key`, then carries out the seek it asks
/// for and takes the next observations, as the event loop does.
fn press(app: &mut App, source: &mut FileSource, key: char, text: &str) {
    let code = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    app.handle(code(key));
    if !text.is_empty() {
        for c in text.chars() {
            app.handle(code(c));
        }
        app.handle(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
    }
    if let Some(to) = app.seek.take() {
        let result = source.seek(to);
        app.sought(result);
    }
    observe(app, source);
}

#[test]
fn a_search_in_a_recording_moves_the_cursor_through_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.mcap");
    write_recording(&path);
    let mut source = FileSource::open(&path, false).unwrap();
    let mut app = App::new(Config::default(), (120, 40));
    observe(&mut app, &mut source);
    let selected = |app: &App| app.live.detail.as_ref().and_then(|d| d.copy.position);

    // Sequence 42 is far past the 16-slot ring rebuilt at frame 1.
    press(&mut app, &mut source, '/', "VALUE=42");
    let text = render(&app);
    assert!(text.contains("frame 43 of 190"), "{text}");
    assert_eq!(selected(&app), Some(42), "{text}");
    // n: the next one in the file, a lap of the ring and more away.
    press(&mut app, &mut source, 'n', "");
    assert!(render(&app).contains("frame 133 of 190"));
    assert_eq!(selected(&app), Some(142));
    // N: back again.
    press(&mut app, &mut source, 'N', "");
    assert!(render(&app).contains("frame 43 of 190"));
    assert_eq!(selected(&app), Some(42));
    // Sequence 55 was never recorded, 155 was.
    press(&mut app, &mut source, '/', "value=55");
    assert_eq!(selected(&app), Some(155));
    // Nothing later: said so, and the cursor stays.
    press(&mut app, &mut source, 'n', "");
    let text = render(&app);
    assert!(
        text.contains("no frame from here on matches \"value=55\""),
        "{text}"
    );
    assert!(text.contains("frame 146 of 190"), "{text}");
    // A slot state is a moment of the ring, not a frame: it filters the
    // ring at the cursor and leaves the cursor where it is.
    press(&mut app, &mut source, '/', "free");
    assert!(render(&app).contains("frame 146 of 190"));
    // Nothing past the last frame to search.
    source.seek(Seek::End).unwrap();
    let find = Seek::Find {
        query: "value".into(),
        forward: true,
        skip: true,
    };
    let err = source.seek(find).unwrap_err();
    assert!(
        matches!(
            err,
            SeekError::NoMatch {
                searched: None,
                forward: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("the cursor is on the last frame"),
        "{err}"
    );
}

#[test]
fn an_image_saved_by_a_freeze_opens_with_the_same_slots() {
    // A live ring with known frames, no daemons.
    let name = format!("/forge_test_top_image_{}", std::process::id());
    let segment = Segment::create(
        &name,
        &CreateOptions {
            slot_count: 16,
            ..Default::default()
        },
    )
    .unwrap();
    let _unlink = Unlink(name.clone());
    {
        let mut producer = segment.producer().unwrap();
        for seq in 0..12u64 {
            producer.write_from(&payload(seq, 1_000 + seq)).unwrap();
        }
        producer.flush_index();
    }
    let mut live = LiveSource::new(&name);
    live.try_attach().unwrap();
    let mut app = App::new(Config::default(), (80, 24));
    app.observe(live.sample(&app.slot_request()));
    app.handle(Event::Key(KeyEvent::new(
        KeyCode::Char(' '),
        KeyModifiers::NONE,
    )));
    app.observe(live.sample(&app.slot_request()));
    let raw = app.frozen_raw().expect("a freeze keeps the raw copy");
    assert_eq!(raw.slots.len(), 16);
    let dir = tempfile::tempdir().unwrap();
    let out = forge_cli::output::Dir::open(dir.path()).unwrap();
    let saved = forge_top::export::save_image(&out, &app, &raw).unwrap();
    assert_eq!(saved.extension().unwrap(), "forge");
    let frozen_text = render(&app);

    let mut file = FileSource::open(&saved, false).unwrap();
    let mut offline = App::new(Config::default(), (80, 24));
    observe(&mut offline, &mut file);
    let file_text = render(&offline);
    assert!(file_text.contains("OFFLINE IMAGE"), "{file_text}");
    // The slot list and the selected slot are the same rows.
    // (Below the panel titles, which say "frozen copy" and "offline".)
    let rows = |t: &str| -> Vec<String> { t.lines().skip(16).take(7).map(str::to_owned).collect() };
    assert_eq!(
        rows(&frozen_text),
        rows(&file_text),
        "\n{frozen_text}\n{file_text}"
    );
    assert!(!offline.live.slots.is_empty());
    for b in &offline.live.slots {
        let a = app
            .frozen_slot(b.copy.index)
            .expect("the frozen copy has every slot");
        assert_eq!(
            (a.copy.index, a.copy.position, a.copy.state, &a.frame),
            (b.copy.index, b.copy.position, b.copy.state, &b.frame)
        );
    }
    // The list panel only: the detail names a frame age, which depends on
    // when the test runs.
    let list: Vec<String> = rows(&file_text)
        .iter()
        .map(|r| r.chars().take(34).collect())
        .collect();
    insta::assert_snapshot!("image_slots", list.join("\n"));
}

struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
        let _ = std::fs::remove_file(format!("/dev/shm{}.roles", self.0));
    }
}
