//! Broker lifecycle: registration, heartbeats, fencing, unfencing and controlled shutdown.
//!
//! ```text
//!  register (new incarnation) ──► fenced ──heartbeat, caught up──► unfenced
//!        ▲                          ▲  │                              │  │
//!        │                          │  └──────── heartbeat ◄──────────┘  │ session expired
//!        └──── restart ◄────────────┴── fence_broker ◄───────────────────┤
//!                                   └── controlled_shutdown ◄────────────┘ want_shut_down
//! ```
//! Fencing takes the broker out of every ISR (never emptying one) and moves its leaderships; the
//! partition records come before the broker record, so no intermediate image has a fenced leader.

use uuid::Uuid;

use super::OpError;
use super::election::{elect_with_returning_broker, remove_broker_from_partitions};
use crate::error_code::ErrorCode;
use crate::metadata::image::{BrokerEndpoint, BrokerImage, MetadataImage};
use crate::metadata::records::MetadataRecord;

/// A BrokerRegistration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistration {
    /// Broker (node) id.
    pub broker_id: i32,
    /// Identifies this run of the broker process.
    pub incarnation_id: Uuid,
    /// The cluster the broker believes it belongs to (from its `meta.properties`).
    pub cluster_id: String,
    /// Advertised host of the broker's inter-broker listener.
    pub host: String,
    /// Advertised port of the broker's inter-broker listener.
    pub port: i32,
    /// Every advertised listener (empty from a broker that predates named listeners).
    pub endpoints: Vec<BrokerEndpoint>,
    /// Rack, if any.
    pub rack: Option<String>,
}

/// A BrokerHeartbeat request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerHeartbeat {
    /// Broker id.
    pub broker_id: i32,
    /// The broker epoch from its registration.
    pub broker_epoch: i64,
    /// Offset of the metadata the broker has applied (it is unfenced only once caught up to its own
    /// registration).
    pub current_metadata_offset: u64,
    /// The broker wants to stay fenced (it is still starting up).
    pub want_fence: bool,
    /// The broker wants to shut down cleanly.
    pub want_shut_down: bool,
}

/// The BrokerHeartbeat response, as of the image after the returned records are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatResponse {
    /// The broker is fenced.
    pub is_fenced: bool,
    /// The broker's metadata has reached its registration.
    pub is_caught_up: bool,
    /// The broker may stop now: its controlled shutdown is complete.
    pub should_shut_down: bool,
}

fn registered(image: &MetadataImage, broker_id: i32) -> Result<&BrokerImage, OpError> {
    image.broker(broker_id).ok_or_else(|| {
        OpError::new(ErrorCode::BrokerIdNotRegistered, format!("broker {broker_id} is not registered"))
    })
}

fn validate_registration(request: &BrokerRegistration, expected_cluster_id: &str) -> Result<(), OpError> {
    if request.cluster_id != expected_cluster_id {
        return Err(OpError::new(
            ErrorCode::InconsistentClusterId,
            format!("cluster id '{}' is not this cluster's ('{expected_cluster_id}')", request.cluster_id),
        ));
    }
    if request.broker_id < 0 {
        return Err(OpError::new(ErrorCode::InvalidRequest, "broker id must not be negative"));
    }
    if request.host.is_empty() || !(0..=65535).contains(&request.port) {
        return Err(OpError::new(ErrorCode::InvalidRequest, "advertised host and port must be valid"));
    }
    for (i, endpoint) in request.endpoints.iter().enumerate() {
        if endpoint.name.is_empty() || endpoint.host.is_empty() || !(0..=65535).contains(&endpoint.port) {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                format!("listener endpoint {:?} needs a name, a host and a valid port", endpoint),
            ));
        }
        if request.endpoints[..i].iter().any(|e| e.name == endpoint.name) {
            return Err(OpError::new(
                ErrorCode::InvalidRequest,
                format!("listener name {} is registered twice", endpoint.name),
            ));
        }
    }
    Ok(())
}

/// BrokerRegistration. A retry with the registered incarnation and endpoints changes nothing (no
/// records). A new incarnation (the broker restarted) replaces the registration: the broker is first
/// taken out of ISRs and leaderships as if fenced, then registered fenced until it heartbeats. The
/// broker epoch returned to the broker is the new registration's offset, read from the image once the
/// records are applied ([`BrokerImage::broker_epoch`]).
///
/// The shell should refuse a new incarnation while the old one still has a live session
/// ([`BrokerHeartbeatTracker::has_live_session`](super::BrokerHeartbeatTracker::has_live_session),
/// `DUPLICATE_BROKER_REGISTRATION`); that check needs the tracker, which is not in the image.
pub fn register_broker(
    image: &MetadataImage,
    request: &BrokerRegistration,
    expected_cluster_id: &str,
) -> Result<Vec<MetadataRecord>, OpError> {
    validate_registration(request, expected_cluster_id)?;
    let mut records = Vec::new();
    if let Some(existing) = image.broker(request.broker_id) {
        if existing.incarnation_id == request.incarnation_id {
            let same = existing.host == request.host
                && existing.port == request.port
                && existing.endpoints == request.endpoints
                && existing.rack == request.rack;
            if same {
                return Ok(records);
            }
            return Err(OpError::new(
                ErrorCode::DuplicateBrokerRegistration,
                format!(
                    "broker {} is registered with incarnation {} and other endpoints",
                    request.broker_id, request.incarnation_id
                ),
            ));
        }
        records.extend(remove_broker_from_partitions(image, request.broker_id));
    }
    records.push(MetadataRecord::RegisterBroker {
        broker_id: request.broker_id,
        incarnation_id: request.incarnation_id,
        host: request.host.clone(),
        port: request.port,
        endpoints: request.endpoints.clone(),
        rack: request.rack.clone(),
        fenced: true,
    });
    Ok(records)
}

/// Fences `broker_id` (its session expired): out of every ISR it is in (except where it is the last
/// member; that partition goes offline), new leaders elected from the remaining ISR (unclean where the
/// topic allows), then the `FenceBroker` record. Already fenced: no records.
pub fn fence_broker(image: &MetadataImage, broker_id: i32) -> Result<Vec<MetadataRecord>, OpError> {
    let broker = registered(image, broker_id)?;
    if broker.fenced {
        return Ok(Vec::new());
    }
    let mut records = remove_broker_from_partitions(image, broker_id);
    records.push(MetadataRecord::FenceBroker { broker_id });
    Ok(records)
}

/// Unfences `broker_id` (it heartbeat again): the `UnfenceBroker` record, then leaders for the offline
/// partitions it can lead (those whose ISR holds it; any it replicates where the topic allows unclean
/// election). It rejoins other ISRs only through its leaders' AlterPartition. Not fenced and not
/// shutting down: no records.
pub fn unfence_broker(image: &MetadataImage, broker_id: i32) -> Result<Vec<MetadataRecord>, OpError> {
    let broker = registered(image, broker_id)?;
    if broker.is_active() {
        return Ok(Vec::new());
    }
    let mut records = vec![MetadataRecord::UnfenceBroker { broker_id }];
    records.extend(elect_with_returning_broker(image, broker_id));
    Ok(records)
}

/// Controlled shutdown of `broker_id`: marks it shutting down, moves every leadership it holds to
/// another ISR member (offline when there is none), takes it out of ISRs where others remain, and —
/// since it then leads nothing — fences it. The broker may stop once it sees its `FenceBroker`.
/// Already fenced: no records.
pub fn controlled_shutdown(image: &MetadataImage, broker_id: i32) -> Result<Vec<MetadataRecord>, OpError> {
    let broker = registered(image, broker_id)?;
    if broker.fenced {
        return Ok(Vec::new());
    }
    let mut records = Vec::new();
    if !broker.in_controlled_shutdown {
        records.push(MetadataRecord::BrokerControlledShutdown { broker_id });
    }
    records.extend(remove_broker_from_partitions(image, broker_id));
    records.push(MetadataRecord::FenceBroker { broker_id });
    Ok(records)
}

/// BrokerHeartbeat (the caller also records it in its
/// [`BrokerHeartbeatTracker`](super::BrokerHeartbeatTracker)). Refuses unknown brokers and stale broker
/// epochs. `want_shut_down` starts a controlled shutdown; otherwise a fenced broker that has caught up
/// with its registration and does not `want_fence` is unfenced.
pub fn broker_heartbeat(
    image: &MetadataImage,
    request: &BrokerHeartbeat,
) -> Result<(Vec<MetadataRecord>, HeartbeatResponse), OpError> {
    let broker = registered(image, request.broker_id)?;
    if broker.broker_epoch != request.broker_epoch {
        return Err(OpError::new(
            ErrorCode::StaleBrokerEpoch,
            format!(
                "broker epoch {} is not the registered epoch {}",
                request.broker_epoch, broker.broker_epoch
            ),
        ));
    }
    let is_caught_up =
        i64::try_from(request.current_metadata_offset).unwrap_or(i64::MAX) >= broker.broker_epoch;
    let (records, is_fenced, should_shut_down) = if request.want_shut_down {
        (controlled_shutdown(image, request.broker_id)?, true, true)
    } else if broker.in_controlled_shutdown {
        (Vec::new(), broker.fenced, broker.fenced)
    } else if broker.fenced && is_caught_up && !request.want_fence {
        (unfence_broker(image, request.broker_id)?, false, false)
    } else {
        (Vec::new(), broker.fenced, false)
    };
    Ok((records, HeartbeatResponse { is_fenced, is_caught_up, should_shut_down }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::image::LeaderRecoveryState;
    use crate::metadata::ops::election::NO_LEADER;

    const CLUSTER: &str = "c1";

    fn registration(broker_id: i32, incarnation: u128) -> BrokerRegistration {
        BrokerRegistration {
            broker_id,
            incarnation_id: Uuid::from_u128(incarnation),
            cluster_id: CLUSTER.into(),
            host: "localhost".into(),
            port: 9092 + broker_id,
            endpoints: vec![BrokerEndpoint {
                name: "PLAINTEXT".into(),
                host: "localhost".into(),
                port: 9092 + broker_id,
            }],
            rack: None,
        }
    }

    fn apply(
        image: &mut MetadataImage,
        op: impl FnOnce(&MetadataImage) -> Result<Vec<MetadataRecord>, OpError>,
    ) {
        for record in op(image).expect("op") {
            image.replay(&record);
        }
    }

    /// Brokers 1..=n registered and unfenced, topic "t" with partition 0 replicas `replicas`.
    fn cluster(n: i32, replicas: &[i32]) -> (MetadataImage, Uuid) {
        let mut image = MetadataImage::default();
        for id in 1..=n {
            apply(&mut image, |i| register_broker(i, &registration(id, id as u128), CLUSTER));
            apply(&mut image, |i| unfence_broker(i, id));
        }
        let topic_id = Uuid::from_u128(99);
        image.replay(&MetadataRecord::Topic { name: "t".into(), topic_id });
        image.replay(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            leader: replicas[0],
            leader_epoch: 0,
            partition_epoch: 0,
        });
        (image, topic_id)
    }

    #[test]
    fn registration_checks_cluster_id_and_is_idempotent() {
        let image = MetadataImage::default();
        let mut wrong = registration(1, 1);
        wrong.cluster_id = "other".into();
        assert_eq!(
            register_broker(&image, &wrong, CLUSTER).unwrap_err().code,
            ErrorCode::InconsistentClusterId
        );
        let mut image = image;
        apply(&mut image, |i| register_broker(i, &registration(1, 1), CLUSTER));
        let broker = image.broker(1).expect("registered");
        assert!(broker.fenced);
        assert_eq!(broker.broker_epoch, 1);
        assert_eq!(register_broker(&image, &registration(1, 1), CLUSTER), Ok(vec![]));
        let mut moved = registration(1, 1);
        moved.port = 1;
        assert_eq!(
            register_broker(&image, &moved, CLUSTER).unwrap_err().code,
            ErrorCode::DuplicateBrokerRegistration
        );
        let mut relisted = registration(1, 1);
        relisted.endpoints.push(BrokerEndpoint { name: "EXTERNAL".into(), host: "h".into(), port: 1 });
        assert_eq!(
            register_broker(&image, &relisted, CLUSTER).unwrap_err().code,
            ErrorCode::DuplicateBrokerRegistration
        );
    }

    #[test]
    fn registration_keeps_every_endpoint_and_rejects_bad_ones() {
        let mut image = MetadataImage::default();
        let mut request = registration(1, 1);
        request.endpoints = vec![
            BrokerEndpoint { name: "INTERNAL".into(), host: "broker-1".into(), port: 9092 },
            BrokerEndpoint { name: "EXTERNAL".into(), host: "127.0.0.1".into(), port: 19092 },
        ];
        apply(&mut image, |i| register_broker(i, &request, CLUSTER));
        let broker = image.broker(1).expect("registered");
        assert_eq!(broker.endpoints, request.endpoints);
        assert_eq!(broker.endpoint("EXTERNAL"), Some(("127.0.0.1", 19092)));
        assert_eq!(broker.endpoint("INTERNAL"), Some(("broker-1", 9092)));
        assert_eq!(broker.endpoint("OTHER"), None);
        let mut twice = request.clone();
        twice.endpoints[1].name = "INTERNAL".into();
        assert_eq!(register_broker(&image, &twice, CLUSTER).unwrap_err().code, ErrorCode::InvalidRequest);
        let mut no_host = request;
        no_host.endpoints[0].host.clear();
        assert_eq!(register_broker(&image, &no_host, CLUSTER).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn new_incarnation_fences_and_moves_leadership() {
        let (mut image, topic_id) = cluster(2, &[1, 2]);
        apply(&mut image, |i| register_broker(i, &registration(1, 77), CLUSTER));
        let broker = image.broker(1).expect("b1");
        assert!(broker.fenced);
        assert_eq!(broker.incarnation_id, Uuid::from_u128(77));
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone(), p.leader_epoch), (2, vec![2], 1));
    }

    #[test]
    fn fence_removes_from_isr_and_elects_but_keeps_last_replica() {
        let (mut image, topic_id) = cluster(3, &[1, 2]);
        apply(&mut image, |i| fence_broker(i, 1));
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch), (2, vec![2], 1, 1));
        apply(&mut image, |i| fence_broker(i, 2));
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch), (NO_LEADER, vec![2], 2, 2));
        assert_eq!(fence_broker(&image, 2), Ok(vec![]));
        assert_eq!(fence_broker(&image, 9).unwrap_err().code, ErrorCode::BrokerIdNotRegistered);
        // Broker 1 returns: not in the ISR, so the partition stays offline (clean election only).
        apply(&mut image, |i| unfence_broker(i, 1));
        assert_eq!(image.partition(topic_id, 0).expect("p0").leader, NO_LEADER);
        // Broker 2, the last ISR member, returns and leads again.
        apply(&mut image, |i| unfence_broker(i, 2));
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone(), p.leader_epoch), (2, vec![2], 3));
    }

    #[test]
    fn unclean_election_when_topic_allows() {
        let (mut image, topic_id) = cluster(2, &[1, 2]);
        apply(&mut image, |i| fence_broker(i, 1));
        apply(&mut image, |i| fence_broker(i, 2));
        image.replay(&MetadataRecord::TopicConfig {
            topic: "t".into(),
            name: "unclean.leader.election.enable".into(),
            value: Some("true".into()),
        });
        apply(&mut image, |i| unfence_broker(i, 1));
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone()), (1, vec![1]));
        assert_eq!(p.leader_recovery_state, LeaderRecoveryState::Recovering);
    }

    #[test]
    fn controlled_shutdown_moves_leadership_then_fences() {
        let (mut image, topic_id) = cluster(3, &[1, 2, 3]);
        let records = controlled_shutdown(&image, 1).expect("shutdown");
        assert!(matches!(records.first(), Some(MetadataRecord::BrokerControlledShutdown { broker_id: 1 })));
        assert!(matches!(records.last(), Some(MetadataRecord::FenceBroker { broker_id: 1 })));
        apply(&mut image, |_| Ok(records));
        let p = image.partition(topic_id, 0).expect("p0");
        assert_eq!((p.leader, p.isr.clone()), (2, vec![2, 3]));
        let broker = image.broker(1).expect("b1");
        assert!(broker.fenced && broker.in_controlled_shutdown);
    }

    #[test]
    fn heartbeat_unfences_when_caught_up_and_refuses_stale_epoch() {
        let mut image = MetadataImage::default();
        apply(&mut image, |i| register_broker(i, &registration(1, 1), CLUSTER));
        let epoch = image.broker(1).expect("b1").broker_epoch;
        let beat = BrokerHeartbeat {
            broker_id: 1,
            broker_epoch: epoch,
            current_metadata_offset: 0,
            want_fence: false,
            want_shut_down: false,
        };
        let (records, response) = broker_heartbeat(&image, &beat).expect("beat");
        assert!(records.is_empty() && response.is_fenced && !response.is_caught_up);
        let caught_up = BrokerHeartbeat { current_metadata_offset: image.offset, ..beat };
        let (records, response) = broker_heartbeat(&image, &caught_up).expect("beat");
        assert!(!response.is_fenced);
        apply(&mut image, |_| Ok(records));
        assert!(!image.broker(1).expect("b1").fenced);
        let stale = BrokerHeartbeat { broker_epoch: epoch - 1, ..beat };
        assert_eq!(broker_heartbeat(&image, &stale).unwrap_err().code, ErrorCode::StaleBrokerEpoch);
        let unknown = BrokerHeartbeat { broker_id: 5, ..beat };
        assert_eq!(broker_heartbeat(&image, &unknown).unwrap_err().code, ErrorCode::BrokerIdNotRegistered);
        let shut = BrokerHeartbeat { want_shut_down: true, ..caught_up };
        let (records, response) = broker_heartbeat(&image, &shut).expect("beat");
        assert!(response.should_shut_down);
        apply(&mut image, |_| Ok(records));
        assert!(image.broker(1).expect("b1").fenced);
    }
}
