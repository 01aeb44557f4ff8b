//! Raw TCP against a broker process: malformed, oversized and hostile frames must cost the sender its
//! connection (or an error response), never the broker its life; well-formed pipelined requests are
//! answered in order.
//!
//! After every hostile frame the test checks that the process is still running and that a fresh
//! connection gets a correct ApiVersions response.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use strom_tests::kafka::create_topic_at;
use strom_tests::wire::{BatchRecord, BatchSpec, Connection, Outcome, encode_request, frame, split_response};
use strom_tests::{BrokerProcess, unique_topic};

const UNSUPPORTED_VERSION: i16 = 35;
const CORRUPT_MESSAGE: i16 = 2;
const INVALID_RECORD: i16 = 87;

async fn connect(broker: &BrokerProcess) -> Connection {
    Connection::connect(broker.addr()).await
}

/// Sends ApiVersions v3 on a fresh connection and checks the response is complete and correct.
async fn assert_serves_api_versions(broker: &mut BrokerProcess) {
    assert!(broker.is_alive(), "broker process died");
    let mut stream = connect(broker).await;
    let request = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("strom-tests"))
        .with_client_software_version(StrBytes::from_static_str("1.0"));
    let outcome = stream.send_raw(&frame(&encode_request(3, 4242, &request))).await;
    let Outcome::Response(response) = outcome else { panic!("ApiVersions on a fresh connection: closed") };
    let (correlation_id, mut body) = split_response(response, 0);
    assert_eq!(correlation_id, 4242);
    let response = ApiVersionsResponse::decode(&mut body, 3).expect("decode ApiVersions v3");
    assert_eq!(response.error_code, 0);
    for key in [ApiKey::Produce, ApiKey::Fetch, ApiKey::Metadata, ApiKey::ApiVersions] {
        assert!(
            response.api_keys.iter().any(|k| k.api_key == key as i16),
            "{key:?} missing from ApiVersions response"
        );
    }
    assert!(broker.is_alive(), "broker process died");
}

#[tokio::test]
async fn huge_array_length_in_metadata_request() {
    let mut broker = BrokerProcess::start();
    assert_serves_api_versions(&mut broker).await;

    // Metadata v4 header, then a body whose topics array claims i32::MAX entries.
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(4)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("hostile")));
    let mut payload = BytesMut::new();
    header.encode(&mut payload, MetadataRequest::header_version(4)).expect("encode header");
    payload.put_slice(&[0x7f, 0xff, 0xff, 0xff, 0x00]);
    let mut stream = connect(&broker).await;
    match stream.send_raw(&frame(&payload)).await {
        Outcome::Closed => {}
        Outcome::Response(response) => {
            let (correlation_id, _) = split_response(response, 0);
            assert_eq!(correlation_id, 7, "response to the hostile request has the wrong correlation id");
        }
    }
    assert_serves_api_versions(&mut broker).await;

    // The same in a flexible version: a compact array length varint of u32::MAX.
    let header = header.with_request_api_version(12);
    let mut payload = BytesMut::new();
    header.encode(&mut payload, MetadataRequest::header_version(12)).expect("encode header");
    payload.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00]);
    let mut stream = connect(&broker).await;
    match stream.send_raw(&frame(&payload)).await {
        Outcome::Closed => {}
        Outcome::Response(response) => {
            let (correlation_id, _) = split_response(response, 1);
            assert_eq!(correlation_id, 7);
        }
    }
    assert_serves_api_versions(&mut broker).await;
}

#[tokio::test]
async fn oversized_frame_lengths_close_the_connection() {
    let mut broker = BrokerProcess::start_with_config("socket_request_max_bytes = 1048576\n");
    assert_serves_api_versions(&mut broker).await;
    // i32::MAX (2 GiB - 1), "2 GiB" as it wraps to i32::MIN, -1, and just over the configured limit.
    for length in [i32::MAX, i32::MIN, -1, 1_048_577] {
        let mut stream = connect(&broker).await;
        let mut bytes = BytesMut::new();
        bytes.put_i32(length);
        bytes.put_slice(&[0, 18, 0, 3, 0, 0, 0, 1]); // the start of a plausible header
        assert!(
            matches!(stream.send_raw(&bytes).await, Outcome::Closed),
            "frame length {length}: connection must be closed"
        );
        assert_serves_api_versions(&mut broker).await;
    }
}

/// A valid v2 record batch with one record, then its record count overwritten and the CRC fixed.
fn record_batch_claiming(records_count: i32) -> Bytes {
    let mut spec = BatchSpec::plain(vec![BatchRecord::new(b"k", b"v")]);
    spec.records_count_override = Some(records_count);
    spec.encode()
}

/// Sends a Produce v9 (acks=1) of `batch` to partition 0 of `topic`; returns the outcome.
async fn produce_raw(broker: &BrokerProcess, topic: &str, batch: Bytes, correlation_id: i32) -> Outcome {
    let request = ProduceRequest::default().with_acks(1).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![
                PartitionProduceData::default().with_index(0).with_records(Some(batch)),
            ]),
    ]);
    let mut stream = connect(broker).await;
    stream.send_raw(&frame(&encode_request(9, correlation_id, &request))).await
}

/// The partition error code and base offset of a Produce v9 response.
fn produce_result(response: Bytes, correlation_id: i32) -> (i16, i64) {
    let (got, mut body) = split_response(response, 1);
    assert_eq!(got, correlation_id);
    let response = ProduceResponse::decode(&mut body, 9).expect("decode Produce v9 response");
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

#[tokio::test]
async fn record_batch_with_absurd_record_count() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("hostile-produce");
    create_topic_at(&broker.bootstrap(), &topic, 1, &[]).await;

    // Sanity: the honest batch is accepted at offset 0.
    let outcome = produce_raw(&broker, &topic, record_batch_claiming(1), 1).await;
    let Outcome::Response(response) = outcome else { panic!("valid Produce v9: connection closed") };
    assert_eq!(produce_result(response, 1), (0, 0), "valid batch: (error_code, base_offset)");

    for (i, count) in [i32::MAX, -1, 2, 0].into_iter().enumerate() {
        let correlation_id = 100 + i as i32;
        match produce_raw(&broker, &topic, record_batch_claiming(count), correlation_id).await {
            Outcome::Closed => {}
            Outcome::Response(response) => {
                let (error_code, _) = produce_result(response, correlation_id);
                assert!(
                    error_code == CORRUPT_MESSAGE || error_code == INVALID_RECORD,
                    "records_count {count}: error code {error_code}, want CORRUPT_MESSAGE or INVALID_RECORD"
                );
            }
        }
        assert_serves_api_versions(&mut broker).await;
    }

    // None of the rejected batches took an offset.
    let outcome = produce_raw(&broker, &topic, record_batch_claiming(1), 2).await;
    let Outcome::Response(response) = outcome else { panic!("valid Produce v9: connection closed") };
    assert_eq!(produce_result(response, 2), (0, 1), "second valid batch: (error_code, base_offset)");
}

#[tokio::test]
async fn garbage_unknown_api_and_truncated_headers_close_the_connection() {
    let mut broker = BrokerProcess::start();

    let mut unknown_key = BytesMut::new();
    unknown_key.put_i16(9999);
    unknown_key.put_i16(0);
    unknown_key.put_i32(77);
    unknown_key.put_i16(-1); // null client id
    let garbage: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown api key 9999", frame(&unknown_key).to_vec()),
        ("garbage frame", frame(&garbage).to_vec()),
        ("truncated header (3 bytes)", frame(&[0, 18, 0]).to_vec()),
        ("header cut inside client id", frame(&[0, 18, 0, 0, 0, 0, 0, 1, 0, 50, b'a']).to_vec()),
        ("empty frame", frame(&[]).to_vec()),
        ("HTTP request", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
    ];
    for (what, bytes) in cases {
        let mut stream = connect(&broker).await;
        match stream.send_raw(&bytes).await {
            Outcome::Closed => {}
            Outcome::Response(response) if what == "unknown api key 9999" => {
                let (correlation_id, _) = split_response(response, 0);
                assert_eq!(correlation_id, 77, "{what}");
            }
            Outcome::Response(response) => panic!("{what}: expected the connection closed, got {response:?}"),
        }
        assert_serves_api_versions(&mut broker).await;
    }
}

#[tokio::test]
async fn half_sent_frame_does_not_block_other_clients() {
    let mut broker = BrokerProcess::start();
    let mut stalled = connect(&broker).await;
    assert!(stalled.write(&[0, 0]).await, "write half a length");
    let mut stalled_body = connect(&broker).await;
    assert!(stalled_body.write(&[0, 0, 0, 100, 0, 18]).await, "write a partial frame");
    assert_serves_api_versions(&mut broker).await;
    drop(stalled);
    drop(stalled_body);
    assert_serves_api_versions(&mut broker).await;
}

#[tokio::test]
async fn api_versions_with_unsupported_version() {
    let mut broker = BrokerProcess::start();
    let mut stream = connect(&broker).await;
    // Header v2 as a client would send for a new version; the body is irrelevant to the broker.
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(99)
        .with_correlation_id(99)
        .with_client_id(Some(StrBytes::from_static_str("future-client")));
    let mut payload = BytesMut::new();
    header.encode(&mut payload, 2).expect("encode header");
    payload.put_slice(&[0x01, 0x01, 0x00]); // empty compact strings + no tagged fields
    let Outcome::Response(response) = stream.send_raw(&frame(&payload)).await else {
        panic!("ApiVersions v99: connection closed instead of UNSUPPORTED_VERSION");
    };
    let (correlation_id, mut body) = split_response(response, 0);
    assert_eq!(correlation_id, 99);
    let response = ApiVersionsResponse::decode(&mut body, 0).expect("v0 ApiVersions response body");
    assert_eq!(response.error_code, UNSUPPORTED_VERSION);
    let api_versions = response
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
        .expect("ApiVersions listed in the UNSUPPORTED_VERSION response");
    assert_eq!(api_versions.min_version, 0);
    assert!(api_versions.max_version >= 3, "ApiVersions max version {}", api_versions.max_version);
    assert!(!body.has_remaining(), "{} trailing bytes after the v0 body", body.remaining());

    // The same connection stays usable for a supported version.
    let request = ApiVersionsRequest::default();
    let Outcome::Response(response) = stream.send_raw(&frame(&encode_request(0, 100, &request))).await else {
        panic!("connection closed after UNSUPPORTED_VERSION");
    };
    let (correlation_id, mut body) = split_response(response, 0);
    assert_eq!(correlation_id, 100);
    assert_eq!(ApiVersionsResponse::decode(&mut body, 0).expect("decode v0").error_code, 0);
    assert_serves_api_versions(&mut broker).await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let mut broker = BrokerProcess::start();
    let topic = unique_topic("pipelined");
    create_topic_at(&broker.bootstrap(), &topic, 2, &[]).await;

    // 50 requests in one write: ApiVersions v3 and Metadata v12 (all topics) / v4 (one topic).
    let mut batch = BytesMut::new();
    let mut expected = Vec::new();
    for i in 0..50i32 {
        let correlation_id = 1_000 + i * 7;
        match i % 3 {
            0 => {
                let request = ApiVersionsRequest::default()
                    .with_client_software_name(StrBytes::from_static_str("strom-tests"))
                    .with_client_software_version(StrBytes::from_static_str("1.0"));
                batch.put_slice(&frame(&encode_request(3, correlation_id, &request)));
            }
            1 => {
                let request = MetadataRequest::default().with_topics(None);
                batch.put_slice(&frame(&encode_request(12, correlation_id, &request)));
            }
            _ => {
                let request = MetadataRequest::default().with_topics(Some(vec![
                    kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(topic.clone())))),
                ]));
                batch.put_slice(&frame(&encode_request(4, correlation_id, &request)));
            }
        }
        expected.push((correlation_id, i % 3));
    }
    let mut stream = connect(&broker).await;
    assert!(stream.write(&batch).await, "write 50 pipelined requests");

    for (correlation_id, kind) in expected {
        let Outcome::Response(response) = stream.read_frame().await else {
            panic!("connection closed before the response to correlation id {correlation_id}");
        };
        match kind {
            0 => {
                let (got, mut body) = split_response(response, 0);
                assert_eq!(got, correlation_id, "responses out of order");
                let response = ApiVersionsResponse::decode(&mut body, 3).expect("decode ApiVersions");
                assert_eq!(response.error_code, 0);
            }
            1 => {
                let (got, mut body) = split_response(response, 1);
                assert_eq!(got, correlation_id, "responses out of order");
                let response = MetadataResponse::decode(&mut body, 12).expect("decode Metadata v12");
                assert_eq!(response.brokers.len(), 1);
                assert_eq!(response.brokers[0].node_id.0, broker.node_id());
                assert!(
                    response
                        .topics
                        .iter()
                        .any(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic.as_str())),
                    "topic missing from all-topics metadata"
                );
            }
            _ => {
                let (got, mut body) = split_response(response, 0);
                assert_eq!(got, correlation_id, "responses out of order");
                let response = MetadataResponse::decode(&mut body, 4).expect("decode Metadata v4");
                assert_eq!(response.topics.len(), 1);
                assert_eq!(response.topics[0].error_code, 0);
                assert_eq!(response.topics[0].partitions.len(), 2);
            }
        }
    }
    assert_serves_api_versions(&mut broker).await;
}
