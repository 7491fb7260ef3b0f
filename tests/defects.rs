//! Issue 22's defects, one test each (`issue22_N_…`), driven through the app
//! on a `TestBackend` with synthetic rings. Each failed on main before its
//! fix.

mod common;

use common::*;
use forge_top::model::*;

fn settle_at(steps: Vec<Step>) -> forge_top::app::App {
    settle(steps, 120, 40).0
}

#[test]
fn issue22_4_once_text_says_stopped_for_a_clean_stop_as_the_tui_and_json_do() {
    let mut s = sample(20_000, 20_000);
    stopped(&mut s, Role::Producer, 3_000_000_000);
    dead(&mut s, Role::Consumer, 3_000_000_000);
    let app = settle_at(then(s));
    let text = forge_top::export::text_report(&app);
    let producer = text.lines().find(|l| l.starts_with("producer")).unwrap();
    assert!(producer.contains(" stopped,"), "{producer}");
    assert!(!producer.contains("DEAD"), "{producer}");
    let consumer = text.lines().find(|l| l.starts_with("consumer")).unwrap();
    assert!(consumer.contains(" DEAD,"), "{consumer}");
    let json = forge_top::export::json(&app);
    assert!(
        json.contains(r#""liveness": "stopped""#) || json.contains(r#""liveness":"stopped""#),
        "{json}"
    );
}

#[test]
fn issue22_12_an_ordinary_user_error_prints_no_backtrace_even_when_asked() {
    let name = format!("/forge_test_nobt_{}", std::process::id());
    for args in [
        vec!["--once", "--no-wait", "--segment", name.as_str()],
        vec![
            "--once",
            "--no-wait",
            "--format",
            "json",
            "--segment",
            name.as_str(),
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_forge-top"))
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("does not exist") || err.contains("no segment"),
            "{err}"
        );
        assert!(
            !err.contains("backtrace") && !err.contains(" at "),
            "{args:?}: {err}"
        );
        assert!(err.lines().count() <= 2, "one paragraph: {err}");
    }
}
