//! Dynamic broker configs (IncrementalAlterConfigs / AlterConfigs on BROKER resources): per broker or
//! as the cluster-wide default. Only configs a running broker can take without restarting are
//! accepted: the log defaults (validated with the topic-config rules of their topic synonyms) and
//! thread and connection counts.

use super::OpError;
use super::election::{UNCLEAN_LEADER_ELECTION, elect_offline_uncleanly};
use super::topics::enables;
use crate::error_code::ErrorCode;
use crate::metadata::image::{MetadataImage, TopicImage};
use crate::metadata::records::MetadataRecord;
use crate::topic_config;

/// Dynamic broker configs that take a count: `(name, smallest legal value)`.
const COUNTS: &[(&str, i64)] = &[
    ("background.threads", 1),
    ("log.cleaner.threads", 1),
    ("max.connections", 0),
    ("max.connections.per.ip", 0),
    ("num.io.threads", 1),
    ("num.network.threads", 1),
    ("num.recovery.threads.per.data.dir", 1),
    ("num.replica.fetchers", 1),
];

/// Dynamic broker configs that take a rate in bytes per second (Kafka's replication throttles).
const RATES: &[&str] = &["leader.replication.throttled.rate", "follower.replication.throttled.rate"];

fn invalid(name: &str, why: impl std::fmt::Display) -> OpError {
    OpError::new(ErrorCode::InvalidConfig, format!("broker config '{name}': {why}"))
}

fn is_known(name: &str) -> bool {
    topic_config::topic_synonym(name).is_some()
        || COUNTS.iter().any(|(n, _)| *n == name)
        || RATES.contains(&name)
}

/// Checks that `name` is a dynamic broker config and `value` legal for it; returns the canonical
/// value.
pub fn validate_broker_config(name: &str, value: &str) -> Result<String, OpError> {
    if let Some(topic_name) = topic_config::topic_synonym(name) {
        return topic_config::validate(topic_name, value).map_err(|e| invalid(name, e));
    }
    if RATES.contains(&name) {
        return match value.trim().parse::<i64>() {
            Ok(v) if v > 0 => Ok(v.to_string()),
            _ => Err(invalid(name, format!("'{value}' is not a positive number of bytes per second"))),
        };
    }
    let Some((_, min)) = COUNTS.iter().find(|(n, _)| *n == name) else {
        return Err(invalid(name, "not a dynamic broker config"));
    };
    match value.trim().parse::<i64>() {
        Ok(v) if v >= *min && v <= i64::from(i32::MAX) => Ok(v.to_string()),
        _ => Err(invalid(name, format!("'{value}' is not an integer in [{min}, {}]", i32::MAX))),
    }
}

/// Config changes for one broker (`Some(id)`) or the cluster default (`None`): `Some(value)` sets,
/// `None` deletes. With `replace_all` (legacy AlterConfigs), every override not named is removed.
/// All-or-nothing: one invalid change rejects the request. Enabling `unclean.leader.election.enable`
/// as the cluster default also elects leaders for offline partitions of topics without an override.
pub fn alter_broker_configs(
    image: &MetadataImage,
    broker_id: Option<i32>,
    changes: &[(String, Option<String>)],
    replace_all: bool,
) -> Result<Vec<MetadataRecord>, OpError> {
    if broker_id.is_some_and(|id| id < 0) {
        return Err(OpError::new(ErrorCode::InvalidRequest, "broker id must not be negative"));
    }
    let mut records = Vec::new();
    for (name, value) in changes {
        let value = match value {
            Some(value) => Some(validate_broker_config(name, value)?),
            None if is_known(name) => None,
            None => return Err(invalid(name, "not a dynamic broker config")),
        };
        records.push(MetadataRecord::BrokerConfig { broker_id, name: name.clone(), value });
    }
    if replace_all {
        let existing = match broker_id {
            Some(id) => image.broker_configs(id),
            None => Some(image.cluster_broker_configs()),
        };
        for name in existing.into_iter().flat_map(|configs| configs.keys()) {
            if !changes.iter().any(|(n, _)| n == name) {
                records.push(MetadataRecord::BrokerConfig { broker_id, name: name.clone(), value: None });
            }
        }
    }
    if broker_id.is_none() && enables(changes, UNCLEAN_LEADER_ELECTION) {
        let inherits = |t: &&TopicImage| !t.configs.contains_key(UNCLEAN_LEADER_ELECTION);
        for topic in image.topics().filter(inherits) {
            records.extend(elect_offline_uncleanly(image, topic));
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: &str) -> (String, Option<String>) {
        (name.into(), Some(value.into()))
    }

    #[test]
    fn validates_and_applies_per_broker_and_cluster_default() {
        let mut image = MetadataImage::default();
        let records =
            alter_broker_configs(&image, None, &[set("log.retention.ms", "1000")], false).expect("default");
        let more = alter_broker_configs(
            &image,
            Some(1),
            &[set("num.io.threads", "4"), set("log.retention.ms", "5")],
            false,
        )
        .expect("broker 1");
        for r in records.iter().chain(&more) {
            image.replay(r);
        }
        assert_eq!(image.broker_config(1, "log.retention.ms"), Some("5"));
        assert_eq!(image.broker_config(2, "log.retention.ms"), Some("1000"));
        assert_eq!(image.broker_config(2, "num.io.threads"), None);
        let replaced =
            alter_broker_configs(&image, Some(1), &[set("num.io.threads", "8")], true).expect("replace");
        for r in &replaced {
            image.replay(r);
        }
        assert_eq!(image.broker_configs(1).map(|c| c.len()), Some(1));
        assert_eq!(image.broker_config(1, "log.retention.ms"), Some("1000"));
    }

    #[test]
    fn rejects_unknown_names_and_bad_values() {
        let image = MetadataImage::default();
        let code = |changes: &[(String, Option<String>)], id| {
            alter_broker_configs(&image, id, changes, false).map_or_else(|e| e.code, |_| ErrorCode::None)
        };
        assert_eq!(code(&[set("listeners", "PLAINTEXT://:1")], None), ErrorCode::InvalidConfig);
        assert_eq!(code(&[set("num.io.threads", "0")], None), ErrorCode::InvalidConfig);
        assert_eq!(code(&[set("log.retention.ms", "soon")], None), ErrorCode::InvalidConfig);
        assert_eq!(code(&[("nope".into(), None)], None), ErrorCode::InvalidConfig);
        assert_eq!(code(&[set("num.io.threads", "2")], Some(-2)), ErrorCode::InvalidRequest);
        assert_eq!(code(&[set("unclean.leader.election.enable", "TRUE")], Some(1)), ErrorCode::None);
    }
}
