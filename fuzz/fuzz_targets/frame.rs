//! The telemetry frame decoder on arbitrary bytes: errors, never panics;
//! whatever decodes re-encodes, in its own format (1 or 2), to the same
//! bytes.
#![no_main]

use forge_frame::{decode, decode_header, write_header_as, FRAME_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_header(data);
    if let Ok(frame) = decode(data) {
        assert_eq!(frame.body.len(), data.len() - FRAME_HEADER_LEN);
        let mut out = data.to_vec();
        out[..FRAME_HEADER_LEN].fill(0);
        let h = frame.header;
        let n = write_header_as(
            h.format,
            &mut out,
            h.sequence,
            h.timestamp_ns,
            h.source_id,
            h.kind,
            frame.body.len(),
        )
        .expect("a decoded frame re-encodes");
        assert_eq!(&out[..n], data);
    }
});
