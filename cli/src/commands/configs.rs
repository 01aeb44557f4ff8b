//! `strom configs`: describe and alter topic configs, like `kafka-configs.sh --entity-type topics`.
//!
//! rdkafka exposes no safe IncrementalAlterConfigs, so `--alter` uses the legacy AlterConfigs, which
//! replaces a topic's whole set of overrides: the tool describes the topic first, merges
//! `--add-config`/`--delete-config` into its current dynamic configs and sends the full set. A
//! concurrent alter by someone else between the two requests can be lost.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use clap::{ArgGroup, Args};
use rdkafka::admin::{AdminClient, AlterConfig, ConfigEntry, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use serde_json::json;

use crate::client::{ConnectArgs, describe_code, fetch_topic, kafka_error};
use crate::output::{OutputArgs, Table, print_json};

/// Arguments of `strom configs`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["describe", "alter"])))]
pub struct ConfigsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Show the topic's dynamic configs (all configs with --all).
    #[arg(long)]
    describe: bool,
    /// Change the topic's configs with --add-config and --delete-config.
    #[arg(long)]
    alter: bool,
    /// Topic whose configs to show or change.
    #[arg(long, alias = "entity-name", value_name = "TOPIC")]
    topic: String,
    /// With --describe: list every config, including defaults.
    #[arg(long)]
    all: bool,
    /// Configs to set: `k1=v1,k2=[a,b]` (brackets group values containing commas; repeatable).
    #[arg(long, value_name = "K=V[,K=V]")]
    add_config: Vec<String>,
    /// Config overrides to remove, comma-separated (repeatable).
    #[arg(long, value_name = "K[,K]")]
    delete_config: Vec<String>,
}

/// Runs `strom configs`.
pub async fn run(args: ConfigsArgs) -> Result<()> {
    let output = &args.output;
    let admin = args.connect.admin_client()?;
    // rdkafka 0.39 drops DescribeConfigs' per-resource error, so a missing topic would look like one
    // without configs: check that it exists first.
    fetch_topic(admin.inner(), &args.topic, args.connect.request_timeout())?;
    if args.describe { describe(&args, &admin, output).await } else { alter(&args, &admin, output).await }
}

/// Kafka's name for where a config value comes from.
fn source_name(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::Unknown => "UNKNOWN",
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
    }
}

/// All config entries of one topic, sorted by name.
async fn fetch_entries(
    args: &ConfigsArgs,
    admin: &AdminClient<DefaultClientContext>,
) -> Result<Vec<ConfigEntry>> {
    let specifier = ResourceSpecifier::Topic(&args.topic);
    let results =
        admin.describe_configs([&specifier], &args.connect.admin_options()).await.map_err(kafka_error)?;
    match results.into_iter().next() {
        Some(Ok(resource)) => {
            let mut entries = resource.entries;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(entries)
        }
        Some(Err(code)) => bail!("{} (topic '{}')", describe_code(code), args.topic),
        None => bail!("the broker returned no configs for topic '{}'", args.topic),
    }
}

async fn describe(
    args: &ConfigsArgs,
    admin: &AdminClient<DefaultClientContext>,
    output: &OutputArgs,
) -> Result<()> {
    let entries: Vec<ConfigEntry> = fetch_entries(args, admin)
        .await?
        .into_iter()
        .filter(|e| args.all || e.source == ConfigSource::DynamicTopic)
        .collect();
    let value = |e: &ConfigEntry| if e.is_sensitive { None } else { e.value.clone() };
    if output.is_json() {
        let configs: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "value": value(e),
                    "source": source_name(&e.source),
                    "is_default": e.is_default,
                    "is_read_only": e.is_read_only,
                    "is_sensitive": e.is_sensitive,
                })
            })
            .collect();
        return print_json(&json!({ "topic": args.topic, "configs": configs }));
    }
    let mut table = Table::new(["NAME", "VALUE", "SOURCE"]);
    for e in &entries {
        let shown = if e.is_sensitive {
            "<sensitive>".to_string()
        } else {
            e.value.clone().unwrap_or_else(|| "null".into())
        };
        table.row([e.name.clone(), shown, source_name(&e.source).to_string()]);
    }
    table.print()
}

async fn alter(
    args: &ConfigsArgs,
    admin: &AdminClient<DefaultClientContext>,
    output: &OutputArgs,
) -> Result<()> {
    let mut additions = Vec::new();
    for list in &args.add_config {
        additions.extend(parse_config_list(list)?);
    }
    let deletions: Vec<String> = args
        .delete_config
        .iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect();
    if additions.is_empty() && deletions.is_empty() {
        bail!("--alter needs --add-config and/or --delete-config");
    }
    let mut overrides: BTreeMap<String, String> = fetch_entries(args, admin)
        .await?
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect();
    for key in &deletions {
        if overrides.remove(key).is_none() {
            bail!("INVALID_CONFIG: '{key}' is not set on topic '{}', so it cannot be deleted", args.topic);
        }
    }
    overrides.extend(additions);
    let mut request = AlterConfig::new(ResourceSpecifier::Topic(&args.topic));
    for (key, value) in &overrides {
        request = request.set(key, value);
    }
    let results =
        admin.alter_configs([&request], &args.connect.admin_options()).await.map_err(kafka_error)?;
    match results.into_iter().next() {
        Some(Ok(_)) => {}
        Some(Err((_, code))) => bail!("{} (topic '{}')", describe_code(code), args.topic),
        None => bail!("the broker returned no result"),
    }
    verify_applied(args, admin, &overrides).await?;
    if output.is_json() {
        print_json(&json!({ "topic": args.topic, "configs": overrides }))
    } else {
        println!("Completed updating config for topic {}.", args.topic);
        Ok(())
    }
}

/// Checks that the topic's dynamic configs are now exactly `expected`.
///
/// rdkafka 0.39 also drops AlterConfigs' per-resource error, so a rejected change (say
/// `INVALID_CONFIG`) would otherwise be reported as success.
async fn verify_applied(
    args: &ConfigsArgs,
    admin: &AdminClient<DefaultClientContext>,
    expected: &BTreeMap<String, String>,
) -> Result<()> {
    let actual: BTreeMap<String, String> = fetch_entries(args, admin)
        .await?
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| e.value.map(|v| (e.name, v)))
        .collect();
    let mut differences = Vec::new();
    for key in expected.keys().chain(actual.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (want, got) = (expected.get(key), actual.get(key));
        if want != got {
            let show = |v: Option<&String>| v.map_or_else(|| "unset".to_string(), |v| format!("'{v}'"));
            differences.push(format!("{key}: wanted {}, is {}", show(want), show(got)));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    bail!(
        "the broker did not apply the change to topic '{}' ({}); it most likely rejected \
         a value (the client library does not report the broker's reason)",
        args.topic,
        differences.join("; ")
    )
}

/// Parses Kafka's `--add-config` syntax: `k1=v1,k2=[v2a,v2b],k3=v3`.
fn parse_config_list(text: &str) -> Result<Vec<(String, String)>> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for ch in text.chars() {
        match ch {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    items.push(current);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let Some((key, value)) = item.split_once('=') else {
                bail!("expected KEY=VALUE in --add-config, got `{item}`")
            };
            let value = value.trim();
            let value = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
            Ok((key.trim().to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists_parse_with_brackets() -> Result<()> {
        let parsed = parse_config_list("retention.ms=1000,cleanup.policy=[compact,delete], x = y")?;
        assert_eq!(
            parsed,
            vec![
                ("retention.ms".to_string(), "1000".to_string()),
                ("cleanup.policy".to_string(), "compact,delete".to_string()),
                ("x".to_string(), "y".to_string()),
            ]
        );
        assert!(parse_config_list("novalue").is_err());
        Ok(())
    }
}
