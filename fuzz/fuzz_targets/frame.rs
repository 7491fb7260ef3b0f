//! The telemetry frame decoder on arbitrary bytes: errors, never panics;
//! whatever decodes re-encodes to the same bytes.
#![no_main]

use forge_frame::{decode, decode_header, encode, FRAME_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_header(data);
    if let Ok(frame) = decode(data) {
        assert_eq!(frame.body.len(), data.len() - FRAME_HEADER_LEN);
        let mut out = vec![0u8; data.len()];
        let h = frame.header;
        let n = encode(
            &mut out,
            h.sequence,
            h.timestamp_ns,
            h.source_id,
            h.kind,
            frame.body,
        )
        .expect("a decoded frame re-encodes");
        assert_eq!(&out[..n], data);
    }
});
