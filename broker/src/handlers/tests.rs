//! Request decoding under hostile input: lengths that ask for huge allocations, random bodies behind
//! valid headers, and golden ApiVersions bytes.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::{Decoded, Outcome, SUPPORTED_APIS, decode};

fn header(key: i16, version: i16, correlation_id: i32) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i16(key);
    buf.put_i16(version);
    buf.put_i32(correlation_id);
    buf.put_i16(-1); // null client id
    buf
}

#[test]
fn metadata_with_i32_max_topics_is_rejected_without_aborting() {
    let mut frame = header(3, 4, 1);
    frame.put_slice(&[0x7f, 0xff, 0xff, 0xff, 0x00]);
    assert!(matches!(decode(frame.freeze()), Decoded::Done(Outcome::Close(_))));
}

#[test]
fn flexible_request_with_huge_compact_array_is_rejected() {
    // Metadata v12: flexible header (client id, tagged fields) then a compact array of 2^32-2 topics.
    let mut frame = header(3, 12, 2);
    frame.put_u8(0); // header tagged fields
    frame.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(decode(frame.freeze()), Decoded::Done(Outcome::Close(_))));
}

#[test]
fn unsupported_api_versions_version_gets_v0_error_with_key_list() {
    let frame = header(18, 99, 7);
    let Decoded::Done(Outcome::Respond(bytes)) = decode(frame.freeze()) else {
        panic!("expected a response");
    };
    // length, correlation id 7, error 35, then the key array.
    assert_eq!(&bytes[4..8], &7i32.to_be_bytes());
    assert_eq!(&bytes[8..10], &35i16.to_be_bytes());
    assert_eq!(&bytes[10..14], &(SUPPORTED_APIS.len() as i32).to_be_bytes());
    assert_eq!(bytes.len(), 4 + 4 + 2 + 4 + SUPPORTED_APIS.len() * 6);
}

#[test]
fn golden_api_versions_v0_request_decodes() {
    // ApiVersions v0, correlation 1, client id "c".
    let frame = Bytes::from_static(&[0, 18, 0, 0, 0, 0, 0, 1, 0, 1, b'c']);
    assert!(matches!(decode(frame), Decoded::Request { .. }));
}

#[test]
fn unknown_key_and_short_frames_close() {
    assert!(matches!(decode(Bytes::from_static(&[0, 1, 2])), Decoded::Done(Outcome::Close(_))));
    assert!(matches!(decode(header(9999, 0, 1).freeze()), Decoded::Done(Outcome::Close(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any body behind any advertised (key, version) decodes or is rejected; it never panics or aborts.
    #[test]
    fn random_bodies_never_crash(api in 0..SUPPORTED_APIS.len(), version_pick in 0i16..20, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (key, min, max) = SUPPORTED_APIS[api];
        let version = min + version_pick % (max - min + 1);
        let mut frame = header(key as i16, version, 1);
        if key.request_header_version(version) >= 2 {
            frame.put_u8(0);
        }
        frame.put_slice(&body);
        let _ = decode(frame.freeze());
    }

    /// Arbitrary bytes as a whole frame never crash either.
    #[test]
    fn random_frames_never_crash(frame in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode(Bytes::from(frame));
    }
}
