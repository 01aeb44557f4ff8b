//! Scrape-time gauges of a broker: hosted partitions and their offsets, replication health of the
//! partitions it leads, consumer-group lag of those partitions, the groups it coordinates,
//! connections and heartbeat age. Computed from live state on every `/metrics` request, so gone
//! partitions and groups disappear from the output.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};

use strom_controller::telemetry::{Exposition, Kind, Registry};

use crate::coordinator::placement;
use crate::partition::Partition;
use crate::state::{BrokerState, MetadataSource};

/// Cached record timestamps (topic, partition, offset) → ms kept before the cache is cleared.
const TIMESTAMP_CACHE_MAX: usize = 100_000;

/// Registers the broker's scrape-time families on `registry`.
pub fn register_collector(registry: &Registry, state: Weak<BrokerState>) {
    let timestamps = Mutex::new(HashMap::new());
    registry.add_collector(Box::new(move |expo| {
        if let Some(state) = state.upgrade() {
            collect(&state, expo, &timestamps);
        }
    }));
}

/// A per-replica offset family: name, help, and which offset it reports.
type OffsetFamily = (&'static str, &'static str, fn(&crate::partition::Offsets) -> i64);

type TimestampCache = Mutex<HashMap<(String, i32, i64), i64>>;

fn collect(state: &BrokerState, expo: &mut Exposition, timestamps: &TimestampCache) {
    let image = state.image();
    let node_id = state.config.node_id;
    let mut hosted: Vec<Arc<Partition>> = state.replicas.all();
    hosted.sort_by(|a, b| (&a.topic, a.index).cmp(&(&b.topic, b.index)));

    let (mut leaders, mut under_replicated, mut under_min_isr) = (0, 0, 0);
    for partition in &hosted {
        let Some(view) = image.topic(&partition.topic).and_then(|t| t.partitions.get(&partition.index))
        else {
            continue;
        };
        if view.leader != node_id {
            continue;
        }
        leaders += 1;
        // Like Kafka, replicas a reassignment is still adding do not count as missing.
        let target = view.replicas.len() - view.adding_replicas.len();
        if view.isr.len() < target {
            under_replicated += 1;
        }
        if (view.isr.len() as i64) < partition.progress().min_isr {
            under_min_isr += 1;
        }
    }
    expo.single(
        "strom_partitions",
        Kind::Gauge,
        "Partition replicas hosted by this broker.",
        hosted.len() as f64,
    );
    expo.single("strom_leader_partitions", Kind::Gauge, "Partitions this broker leads.", f64::from(leaders));
    expo.single(
        "strom_under_replicated_partitions",
        Kind::Gauge,
        "Partitions this broker leads whose ISR is smaller than their replica set.",
        f64::from(under_replicated),
    );
    expo.single(
        "strom_under_min_isr_partitions",
        Kind::Gauge,
        "Partitions this broker leads whose ISR is below min.insync.replicas (acks=all produce fails).",
        f64::from(under_min_isr),
    );

    let offsets: Vec<_> = hosted.iter().map(|p| (p, p.offsets())).collect();
    let families: [OffsetFamily; 3] = [
        ("strom_log_start_offset", "First offset in the local log of the replica.", |o| o.log_start_offset),
        ("strom_log_end_offset", "Next offset to be written to the local log of the replica.", |o| {
            o.log_end_offset
        }),
        ("strom_high_watermark", "High watermark of the replica (last committed offset + 1).", |o| {
            o.high_watermark
        }),
    ];
    for (name, help, get) in families {
        let mut family = expo.family(name, Kind::Gauge, help);
        for (partition, o) in &offsets {
            let index = partition.index.to_string();
            family.sample(&[("topic", &partition.topic), ("partition", &index)], get(o) as f64);
        }
    }

    collect_lag(state, expo, &hosted, timestamps);
    collect_groups(state, expo);

    expo.single(
        "strom_connections",
        Kind::Gauge,
        "Open Kafka client connections.",
        state.metrics.open_connections() as f64,
    );
    if let MetadataSource::Cluster(cluster) = &state.metadata {
        let age = cluster.heartbeat_age().map_or(f64::INFINITY, |age| age.as_secs_f64());
        expo.single(
            "strom_broker_heartbeat_age_seconds",
            Kind::Gauge,
            "Seconds since the controller quorum last answered this broker's heartbeat.",
            age,
        );
    }
}

/// Lag of every group with a committed offset in a partition this broker leads: records (high
/// watermark − committed offset) and seconds (age of the record at the committed offset).
fn collect_lag(
    state: &BrokerState,
    expo: &mut Exposition,
    hosted: &[Arc<Partition>],
    timestamps: &TimestampCache,
) {
    let image = state.image();
    let now_ms = state.clock.now_ms();
    let led: HashMap<(&str, i32), &Arc<Partition>> =
        hosted.iter().filter(|p| p.is_leader()).map(|p| ((p.topic.as_str(), p.index), p)).collect();
    let mut rows = Vec::new();
    for group in image.groups() {
        let Some(offsets) = image.group_offsets(group) else { continue };
        for (topic, partitions) in offsets {
            for (index, committed) in partitions {
                let Some(partition) = led.get(&(topic.as_str(), *index)) else { continue };
                let o = partition.offsets();
                let position = committed.offset.max(o.log_start_offset);
                let lag = (o.high_watermark - position).max(0);
                let seconds = if lag == 0 {
                    Some(0.0)
                } else {
                    record_timestamp(partition, position, timestamps)
                        .filter(|t| *t >= 0)
                        .map(|t| (now_ms - t).max(0) as f64 / 1000.0)
                };
                rows.push((group, topic, *index, lag, seconds));
            }
        }
    }
    let mut family = expo.family(
        "strom_consumer_group_lag",
        Kind::Gauge,
        "Records a consumer group has not consumed: high watermark minus committed offset (exported by the partition leader).",
    );
    for (group, topic, index, lag, _) in &rows {
        let index = index.to_string();
        family.sample(&[("group", group), ("topic", topic), ("partition", &index)], *lag as f64);
    }
    let mut family = expo.family(
        "strom_consumer_group_lag_seconds",
        Kind::Gauge,
        "Age of the oldest unconsumed record of a consumer group (0 without lag; exported by the partition leader).",
    );
    for (group, topic, index, _, seconds) in &rows {
        if let Some(seconds) = seconds {
            let index = index.to_string();
            family.sample(&[("group", group), ("topic", topic), ("partition", &index)], *seconds);
        }
    }
}

/// The timestamp of the record at `offset` (cached: a record's timestamp never changes).
fn record_timestamp(partition: &Partition, offset: i64, cache: &TimestampCache) -> Option<i64> {
    let key = (partition.topic.clone(), partition.index, offset);
    if let Some(ts) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Some(*ts);
    }
    let read = partition.read(offset, 1, true).ok()?;
    let ts = crate::record::timestamp::record_timestamp(&read.records, offset)?;
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= TIMESTAMP_CACHE_MAX {
        cache.clear();
    }
    cache.insert(key, ts);
    Some(ts)
}

/// Members, rebalances by cause and unowned partitions of the groups this broker coordinates.
fn collect_groups(state: &BrokerState, expo: &mut Exposition) {
    let image = state.image();
    let node_id = state.config.node_id;
    let stats = state.groups.stats();
    let mut family = expo.family(
        "strom_consumer_group_members",
        Kind::Gauge,
        "Members of a consumer group (exported by its coordinator).",
    );
    for group in &stats {
        family.sample(&[("group", &group.group_id)], group.members as f64);
    }
    let mut family = expo.family(
        "strom_consumer_group_rebalances_total",
        Kind::Counter,
        "Completed rebalances of a consumer group by cause, since its coordinator loaded it.",
    );
    for group in &stats {
        for (cause, count) in &group.rebalances {
            family.sample(&[("group", &group.group_id), ("cause", cause)], *count as f64);
        }
    }
    let mut unowned: Vec<(String, usize)> = Vec::new();
    let loaded: BTreeSet<&str> = stats.iter().map(|g| g.group_id.as_str()).collect();
    for group in stats.iter().filter(|g| g.consumer) {
        // Partitions of the subscribed topics, and those with a committed offset, that no member owns.
        let mut wanted: BTreeSet<(String, i32)> = BTreeSet::new();
        for topic in &group.subscribed {
            if let Some(t) = image.topic(topic) {
                wanted.extend(t.partitions.keys().map(|p| (topic.clone(), *p)));
            }
        }
        if group.members == 0 {
            wanted.extend(committed_partitions(&image, &group.group_id));
        }
        unowned.push((group.group_id.clone(), wanted.difference(&group.owned).count()));
    }
    // Groups known only by their committed offsets: nobody owns any of their partitions.
    for group in image.groups() {
        if !loaded.contains(group) && placement::coordinator(&image, group) == Some(node_id) {
            unowned.push((group.to_string(), committed_partitions(&image, group).len()));
        }
    }
    unowned.sort();
    let mut family = expo.family(
        "strom_consumer_group_unowned_partitions",
        Kind::Gauge,
        "Partitions a consumer group subscribes to or has committed offsets in that no member owns (exported by its coordinator).",
    );
    for (group, count) in &unowned {
        family.sample(&[("group", group)], *count as f64);
    }
}

/// Partitions (of existing topics) in which `group` has a committed offset.
fn committed_partitions(image: &crate::metadata::MetadataImage, group: &str) -> BTreeSet<(String, i32)> {
    let Some(offsets) = image.group_offsets(group) else { return BTreeSet::new() };
    offsets
        .iter()
        .filter_map(|(topic, parts)| image.topic(topic).map(|t| (topic, parts, t)))
        .flat_map(|(topic, parts, t)| {
            parts.keys().filter(|p| t.partitions.contains_key(p)).map(|p| (topic.clone(), *p))
        })
        .collect()
}
