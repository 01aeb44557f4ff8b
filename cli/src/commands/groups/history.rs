//! `strom groups --describe --history`: each group's rebalances — generation, time, cause, members,
//! duration — and counts by cause, read from the coordinator with DescribeConfigs on the group's
//! GROUP resource (Strom's read-only `strom.rebalance.history` and `strom.rebalance.causes`).

use anyhow::{Result, bail};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::cluster::{Cluster, require_version};
use super::coordinator::find_coordinator;
use crate::output::{print_json, print_text};
use crate::wire::error_name;

/// Kafka's GROUP config resource type.
const GROUP_RESOURCE: i8 = 32;

/// One group's rebalance history.
#[derive(Debug, Clone, Serialize)]
struct History {
    group: String,
    rebalances: Vec<String>,
    causes: String,
}

async fn history(cluster: &mut Cluster, group: &str) -> Result<History> {
    let coordinator = find_coordinator(cluster, group).await?;
    let conn = cluster.conn(&coordinator.addr()).await?;
    let version = require_version(conn, ApiKey::DescribeConfigs, 1, 4)?;
    let request = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(GROUP_RESOURCE)
            .with_resource_name(StrBytes::from_string(group.to_string()))
            .with_configuration_keys(None),
    ]);
    let ResponseKind::DescribeConfigs(response) =
        conn.send(ApiKey::DescribeConfigs, version, &RequestKind::DescribeConfigs(request)).await?
    else {
        bail!("unexpected response to DescribeConfigs");
    };
    let Some(result) = response.results.first() else { bail!("empty DescribeConfigs response") };
    if result.error_code != 0 {
        bail!("group '{group}': {}", error_name(result.error_code));
    }
    let value = |name: &str| {
        result
            .configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .and_then(|c| c.value.as_ref())
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let rebalances = value("strom.rebalance.history").lines().map(str::to_string).collect();
    Ok(History { group: group.to_string(), rebalances, causes: value("strom.rebalance.causes") })
}

/// Prints the rebalance history of `groups`.
pub async fn run_history(cluster: &mut Cluster, groups: &[String], json: bool) -> Result<()> {
    let mut all = Vec::with_capacity(groups.len());
    for group in groups {
        all.push(history(cluster, group).await?);
    }
    if json {
        return print_json(&all);
    }
    let mut text = String::new();
    for h in &all {
        text += &format!(
            "GROUP {} — rebalances by cause: {}\n",
            h.group,
            if h.causes.is_empty() { "-" } else { &h.causes }
        );
        if h.rebalances.is_empty() {
            text += "  (no rebalance seen by the current coordinator)\n";
        }
        for line in &h.rebalances {
            text += &format!("  {line}\n");
        }
    }
    print_text(&text)
}
