//! The checked-in header is exactly what cbindgen generates from ffi/src
//! with ffi/cbindgen.toml: a function, type or doc comment changed without
//! regenerating it fails here (and so in CI).
//!
//! To regenerate: `FORGE_BLESS=1 cargo test -p forge-ffi --test header`.

use std::io::Write;
use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> Vec<u8> {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("ffi/cbindgen.toml: {e}"));
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot generate the header from ffi/src: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    out
}

/// Replaces `path` with `bytes`: written to a file created anew beside it
/// (never following a link), then renamed over it.
fn replace(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("h.new.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .unwrap_or_else(|e| panic!("creating {}: {e}", tmp.display()));
    file.write_all(bytes).expect("writing the new header");
    file.sync_all().expect("syncing the new header");
    std::fs::rename(&tmp, path).expect("renaming the new header into place");
}

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let generated = generate();
    let path = crate_dir().join("include/forge.h");
    let checked_in = std::fs::read(&path).unwrap_or_default();
    if generated == checked_in {
        return;
    }
    if std::env::var_os("FORGE_BLESS").is_some() {
        replace(&path, &generated);
        eprintln!("regenerated {}", path.display());
        return;
    }
    let (new, old) = (
        String::from_utf8_lossy(&generated),
        String::from_utf8_lossy(&checked_in),
    );
    let first = new
        .lines()
        .zip(old.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| new.lines().count().min(old.lines().count()));
    panic!(
        "ffi/include/forge.h is not what cbindgen generates from ffi/src.\n\
         First difference at line {}:\n  checked in: {:?}\n  generated:  {:?}\n\
         Regenerate it with `FORGE_BLESS=1 cargo test -p forge-ffi --test header` and commit it.",
        first + 1,
        old.lines().nth(first).unwrap_or("(end of file)"),
        new.lines().nth(first).unwrap_or("(end of file)"),
    );
}

#[test]
fn every_exported_function_is_declared_and_documented_in_the_header() {
    let header = std::fs::read_to_string(crate_dir().join("include/forge.h")).unwrap();
    let mut functions = 0;
    for file in std::fs::read_dir(crate_dir().join("src")).unwrap() {
        let path = file.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for chunk in source.split("#[no_mangle]").skip(1) {
            let name = chunk
                .split("extern \"C\" fn ")
                .nth(1)
                .and_then(|rest| rest.split('(').next())
                .unwrap_or_else(|| panic!("{}: #[no_mangle] without an extern fn", path.display()));
            functions += 1;
            let call = format!("{name}(");
            let at = header
                .match_indices(&call)
                .map(|(i, _)| i)
                .find(|&i| {
                    // A declaration: the name after a return type at the
                    // start of a line, not a mention in a comment.
                    let line = &header[header[..i].rfind('\n').map_or(0, |n| n + 1)..i];
                    i > 0
                        && matches!(header.as_bytes()[i - 1], b' ' | b'*')
                        && !line.trim_start().starts_with(['*', '/'])
                })
                .unwrap_or_else(|| panic!("{name} is not declared in forge.h"));
            // The declaration's doc comment ends right above it.
            let before = header[..at].trim_end();
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let above = header[..line_start].trim_end();
            assert!(
                above.ends_with("*/"),
                "{name} has no doc comment in forge.h"
            );
        }
    }
    assert!(functions > 40, "only {functions} exported functions found");
}

#[test]
fn every_exported_function_runs_its_body_under_the_panic_guard() {
    for file in std::fs::read_dir(crate_dir().join("src")).unwrap() {
        let path = file.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for chunk in source.split("#[no_mangle]").skip(1) {
            let name = chunk.split('(').next().unwrap_or_default();
            let body = &chunk[chunk.find('{').expect("a body")..];
            // `call` and `value` run the body under catch_unwind; the holder's
            // constructors go through `new`, which runs `call`.
            assert!(
                ["call(|| {", "value(", "new(name, claim, out,"]
                    .iter()
                    .any(|guard| body.trim_start_matches(['{', ' ', '\n']).lines().take(3).any(|l| l.contains(guard))),
                "{name} does not run its body under the panic guard (status::call or status::value)"
            );
        }
    }
}
