//! The MCAP frame message decoder on arbitrary bytes: errors, never panics;
//! whatever decodes re-encodes to the same bytes.
#![no_main]

use forge_record::codec::{decode, decode_head, encode_into};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = decode_head(data);
    match decode(data) {
        Ok(rec) => {
            let head = head.expect("what decodes has a head");
            assert_eq!((head.position, head.raw), (rec.position, rec.raw));
            let mut again = Vec::new();
            encode_into(&mut again, rec.position, rec.slot_flags, &rec.payload)
                .expect("a decoded payload fits a slot");
            // A payload that happens to be a well-formed telemetry frame is
            // split, whatever the record said: compare payloads, not bytes.
            let back = decode(&again).expect("re-encoded bytes decode");
            assert_eq!(back.payload, rec.payload);
            if !rec.raw {
                assert_eq!(again, data);
            }
        }
        Err(_) => {}
    }
});
