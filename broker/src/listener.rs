//! Named Kafka listeners, as Kafka configures them: `listeners` (what each named listener binds),
//! `advertised_listeners` (the host and port clients are told to use for it) and
//! `inter_broker_listener_name` (the listener followers use to reach leaders).
//!
//! ```text
//!  listeners            INTERNAL://0.0.0.0:9092,      EXTERNAL://0.0.0.0:19092
//!  advertised_listeners INTERNAL://broker-1:9092,     EXTERNAL://127.0.0.1:19092
//!                            │                             │
//!  a client connected to ────┘ INTERNAL sees broker-N:9092 └── EXTERNAL sees 127.0.0.1:1909N
//! ```
//!
//! Without `listeners`, the single `listener` / `advertised_host` / `advertised_port` of older configs
//! is one listener named [`DEFAULT_LISTENER_NAME`]. This module only parses and checks; binding is
//! the broker's job.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::BrokerConfig;

/// The name of the one listener a config without `listeners` has.
pub const DEFAULT_LISTENER_NAME: &str = "PLAINTEXT";

/// A listener configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ListenerError {
    /// An entry is not `NAME://HOST:PORT`.
    #[error("`{entry}` is not NAME://HOST:PORT: {reason}")]
    Syntax {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `listeners` was combined with the single-listener settings.
    #[error(
        "`listeners` cannot be combined with `listener`, `advertised_host` or `advertised_port` \
         (flags --listener/--advertised-host/--advertised-port, env STROM_LISTENER/STROM_ADVERTISED_HOST/\
         STROM_ADVERTISED_PORT): list every listener in `listeners` and its advertised address in \
         `advertised_listeners`"
    )]
    MixedListenerSettings,
    /// `advertised_listeners` was combined with `advertised_host` / `advertised_port`.
    #[error(
        "`advertised_listeners` cannot be combined with `advertised_host` or `advertised_port`; \
         use `advertised_listeners` alone"
    )]
    MixedAdvertisedSettings,
    /// A name appears twice in one setting.
    #[error("listener name {name} appears twice in `{setting}`")]
    DuplicateName {
        /// `listeners` or `advertised_listeners`.
        setting: &'static str,
        /// The repeated name.
        name: String,
    },
    /// Two listeners bind the same port.
    #[error("listeners {first} and {second} both bind port {port}; each listener needs its own port")]
    DuplicatePort {
        /// The port.
        port: u16,
        /// One listener.
        first: String,
        /// The other.
        second: String,
    },
    /// An advertised listener names no listener.
    #[error("`advertised_listeners` names {name}, which is not in the listeners ({known})")]
    UnknownAdvertised {
        /// The advertised name.
        name: String,
        /// The listener names, comma-separated.
        known: String,
    },
    /// An advertised host clients cannot connect to.
    #[error("advertised listener {name} has host `{host}`, which clients cannot connect to")]
    UnusableAdvertisedHost {
        /// Listener name.
        name: String,
        /// The host.
        host: String,
    },
    /// `inter_broker_listener_name` names no listener.
    #[error("`inter_broker_listener_name` is {name}, which is not in the listeners ({known})")]
    UnknownInterBroker {
        /// The configured name.
        name: String,
        /// The listener names, comma-separated.
        known: String,
    },
}

/// One `NAME://HOST:PORT` entry of `listeners` or `advertised_listeners`. The name is upper-case
/// letters, digits and `_`; an IPv6 host is written in brackets (`EXTERNAL://[::1]:19092`); an
/// empty host (`INTERNAL://:9092`) binds every interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ListenerSpec {
    /// Listener name.
    pub name: String,
    /// Host (without IPv6 brackets); may be empty in `listeners`.
    pub host: String,
    /// Port; 0 binds a free port, and in `advertised_listeners` means "the port the listener bound".
    pub port: u16,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl FromStr for ListenerSpec {
    type Err = ListenerError;

    fn from_str(text: &str) -> Result<Self, ListenerError> {
        let syntax = |reason: &str| ListenerError::Syntax { entry: text.to_string(), reason: reason.into() };
        let (name, address) = text.trim().split_once("://").ok_or_else(|| syntax("no `://`"))?;
        if !valid_name(name) {
            return Err(syntax("the name must be upper-case letters, digits and `_`, e.g. INTERNAL"));
        }
        let (host, port) = address.rsplit_once(':').ok_or_else(|| syntax("no `:PORT`"))?;
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.strip_suffix(']').ok_or_else(|| syntax("unclosed `[`"))?,
            None if host.contains(':') => return Err(syntax("write an IPv6 host in brackets, [::1]")),
            None => host,
        };
        if host.contains(|c: char| c.is_whitespace() || c == '/' || c == ',') {
            return Err(syntax("the host contains a space, `/` or `,`"));
        }
        let port = port.parse().map_err(|_| syntax("the port must be a number from 0 to 65535"))?;
        Ok(Self { name: name.to_string(), host: host.to_string(), port })
    }
}

impl fmt::Display for ListenerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

impl TryFrom<String> for ListenerSpec {
    type Error = ListenerError;

    fn try_from(text: String) -> Result<Self, ListenerError> {
        text.parse()
    }
}

impl From<ListenerSpec> for String {
    fn from(spec: ListenerSpec) -> Self {
        spec.to_string()
    }
}

/// One listener to run: where it binds and what it advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Listener name.
    pub name: String,
    /// Host or IP to bind (`0.0.0.0` for every interface).
    pub bind_host: String,
    /// Port to bind; 0 picks a free one.
    pub bind_port: u16,
    /// Advertised host; `None`: the bound IP ([`Listener::advertised`] says how).
    pub advertised_host: Option<String>,
    /// Advertised port; `None`: the bound port.
    pub advertised_port: Option<u16>,
}

impl Listener {
    /// The `(host, port)` clients are told to use, once the listener is bound to `bound`. Without an
    /// advertised host it is the bound IP, or `localhost` when bound to every interface.
    pub fn advertised(&self, bound: SocketAddr) -> (String, i32) {
        let host = self.advertised_host.clone().unwrap_or_else(|| {
            if bound.ip().is_unspecified() { "localhost".to_string() } else { bound.ip().to_string() }
        });
        (host, i32::from(self.advertised_port.unwrap_or(bound.port())))
    }
}

/// Every listener of a broker, checked, in configuration order (the first one's address is the
/// broker's `kafka=` address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerPlan {
    /// The listeners; never empty.
    pub listeners: Vec<Listener>,
    /// Name of the listener followers use to reach leaders.
    pub inter_broker_listener_name: String,
}

fn names(listeners: &[Listener]) -> String {
    listeners.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn first_duplicate<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    names.find(|name| !seen.insert(*name)).map(str::to_string)
}

impl ListenerPlan {
    /// Checks `config`'s listener settings and works out every listener.
    pub fn from_config(config: &BrokerConfig) -> Result<Self, ListenerError> {
        let legacy_advertised = config.advertised_host.is_some() || config.advertised_port.is_some();
        let mut listeners = if config.listeners.is_empty() {
            if !config.advertised_listeners.is_empty() && legacy_advertised {
                return Err(ListenerError::MixedAdvertisedSettings);
            }
            vec![Listener {
                name: DEFAULT_LISTENER_NAME.to_string(),
                bind_host: config.listener.ip().to_string(),
                bind_port: config.listener.port(),
                advertised_host: config.advertised_host.clone(),
                advertised_port: config.advertised_port,
            }]
        } else {
            if config.listener != BrokerConfig::default().listener || legacy_advertised {
                return Err(ListenerError::MixedListenerSettings);
            }
            config.listeners.iter().map(bind_only).collect()
        };
        if let Some(name) = first_duplicate(listeners.iter().map(|l| l.name.as_str())) {
            return Err(ListenerError::DuplicateName { setting: "listeners", name });
        }
        for (i, listener) in listeners.iter().enumerate() {
            let clash = listeners[..i].iter().find(|l| l.bind_port != 0 && l.bind_port == listener.bind_port);
            if let Some(first) = clash {
                return Err(ListenerError::DuplicatePort {
                    port: listener.bind_port,
                    first: first.name.clone(),
                    second: listener.name.clone(),
                });
            }
        }
        if let Some(name) = first_duplicate(config.advertised_listeners.iter().map(|a| a.name.as_str())) {
            return Err(ListenerError::DuplicateName { setting: "advertised_listeners", name });
        }
        let known = names(&listeners);
        for advertised in &config.advertised_listeners {
            let unusable = advertised.host.is_empty()
                || advertised.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
            if unusable {
                return Err(ListenerError::UnusableAdvertisedHost {
                    name: advertised.name.clone(),
                    host: advertised.host.clone(),
                });
            }
            let listener = listeners.iter_mut().find(|l| l.name == advertised.name).ok_or_else(|| {
                ListenerError::UnknownAdvertised { name: advertised.name.clone(), known: known.clone() }
            })?;
            listener.advertised_host = Some(advertised.host.clone());
            listener.advertised_port = (advertised.port != 0).then_some(advertised.port);
        }
        let inter_broker_listener_name = match &config.inter_broker_listener_name {
            Some(name) if listeners.iter().any(|l| &l.name == name) => name.clone(),
            Some(name) => return Err(ListenerError::UnknownInterBroker { name: name.clone(), known }),
            None => listeners[0].name.clone(),
        };
        Ok(Self { listeners, inter_broker_listener_name })
    }
}

/// A `listeners` entry before `advertised_listeners` is applied; an empty host binds every interface.
fn bind_only(spec: &ListenerSpec) -> Listener {
    Listener {
        name: spec.name.clone(),
        bind_host: if spec.host.is_empty() { "0.0.0.0".to_string() } else { spec.host.clone() },
        bind_port: spec.port,
        advertised_host: None,
        advertised_port: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ListenerSpec {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn specs(texts: &[&str]) -> Vec<ListenerSpec> {
        texts.iter().map(|t| spec(t)).collect()
    }

    fn config(listeners: &[&str], advertised: &[&str], inter_broker: Option<&str>) -> BrokerConfig {
        BrokerConfig {
            listeners: specs(listeners),
            advertised_listeners: specs(advertised),
            inter_broker_listener_name: inter_broker.map(str::to_string),
            ..BrokerConfig::default()
        }
    }

    #[test]
    fn parses_and_prints_entries() {
        assert_eq!(
            spec("INTERNAL://0.0.0.0:9092"),
            ListenerSpec { name: "INTERNAL".into(), host: "0.0.0.0".into(), port: 9092 }
        );
        assert_eq!(spec("EXTERNAL://broker-1.example:19092").host, "broker-1.example");
        assert_eq!(spec("V6://[::1]:0"), ListenerSpec { name: "V6".into(), host: "::1".into(), port: 0 });
        assert_eq!(spec("ALL_1://:9092").host, "");
        for text in ["INTERNAL://0.0.0.0:9092", "V6://[::1]:0", "ALL_1://:9092"] {
            assert_eq!(spec(text).to_string(), text);
        }
        for bad in [
            "0.0.0.0:9092",
            "internal://0.0.0.0:9092",
            "IN-TERNAL://h:1",
            "://h:1",
            "INTERNAL://h",
            "INTERNAL://h:99999",
            "INTERNAL://h:x",
            "INTERNAL://::1:9092",
            "INTERNAL://[::1:9092",
            "INTERNAL://a b:1",
        ] {
            let err = bad.parse::<ListenerSpec>().expect_err(bad);
            assert!(err.to_string().contains("is not NAME://HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn toml_reads_arrays_of_entries() {
        let config = BrokerConfig::from_toml_str(
            r#"
            listeners = ["INTERNAL://0.0.0.0:9092", "EXTERNAL://0.0.0.0:19092"]
            advertised_listeners = ["INTERNAL://broker-1:9092", "EXTERNAL://127.0.0.1:19092"]
            inter_broker_listener_name = "INTERNAL"
            "#,
        )
        .expect("parses");
        assert_eq!(config.listeners.len(), 2);
        assert_eq!(config.advertised_listeners[1], spec("EXTERNAL://127.0.0.1:19092"));
        let err = BrokerConfig::from_toml_str(r#"listeners = ["internal://0.0.0.0:9092"]"#).expect_err("bad");
        assert!(err.to_string().contains("upper-case"), "{err}");
    }

    #[test]
    fn plan_without_listeners_is_one_plaintext_listener() {
        let plan = ListenerPlan::from_config(&BrokerConfig::default()).expect("plan");
        assert_eq!(plan.inter_broker_listener_name, DEFAULT_LISTENER_NAME);
        let only = &plan.listeners[0];
        assert_eq!(
            (only.name.as_str(), only.bind_host.as_str(), only.bind_port),
            ("PLAINTEXT", "127.0.0.1", 9092)
        );
        let legacy = BrokerConfig {
            listener: SocketAddr::from(([0, 0, 0, 0], 0)),
            advertised_host: Some("kafka.local".into()),
            ..BrokerConfig::default()
        };
        let plan = ListenerPlan::from_config(&legacy).expect("plan");
        let bound = SocketAddr::from(([0, 0, 0, 0], 41000));
        assert_eq!(plan.listeners[0].advertised(bound), ("kafka.local".to_string(), 41000));
        // advertised_listeners may name the implicit PLAINTEXT listener.
        let renamed = BrokerConfig {
            advertised_listeners: specs(&["PLAINTEXT://broker-1:9092"]),
            ..BrokerConfig::default()
        };
        let plan = ListenerPlan::from_config(&renamed).expect("plan");
        assert_eq!(plan.listeners[0].advertised(bound), ("broker-1".to_string(), 9092));
    }

    #[test]
    fn plan_applies_advertised_entries_and_inter_broker_name() {
        let plan = ListenerPlan::from_config(&config(
            &["INTERNAL://0.0.0.0:9092", "EXTERNAL://:19092", "LOCAL://127.0.0.1:0"],
            &["EXTERNAL://127.0.0.1:19092", "INTERNAL://broker-1:0"],
            Some("EXTERNAL"),
        ))
        .expect("plan");
        assert_eq!(plan.inter_broker_listener_name, "EXTERNAL");
        let by_name = |name: &str| plan.listeners.iter().find(|l| l.name == name).expect(name);
        assert_eq!(by_name("EXTERNAL").bind_host, "0.0.0.0");
        let any = SocketAddr::from(([0, 0, 0, 0], 9092));
        // Advertised port 0: the bound port.
        assert_eq!(by_name("INTERNAL").advertised(any), ("broker-1".to_string(), 9092));
        let external = SocketAddr::from(([0, 0, 0, 0], 19092));
        assert_eq!(by_name("EXTERNAL").advertised(external), ("127.0.0.1".to_string(), 19092));
        // No advertised entry: the bound address.
        let local = SocketAddr::from(([127, 0, 0, 1], 40001));
        assert_eq!(by_name("LOCAL").advertised(local), ("127.0.0.1".to_string(), 40001));
        assert_eq!(
            plan.listeners.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["INTERNAL", "EXTERNAL", "LOCAL"]
        );
        let default_inter =
            ListenerPlan::from_config(&config(&["B://h:1", "A://h:2"], &[], None)).expect("plan");
        assert_eq!(default_inter.inter_broker_listener_name, "B");
    }

    #[test]
    fn plan_rejects_bad_configs_with_clear_errors() {
        let cases: Vec<(BrokerConfig, &str)> = vec![
            (
                BrokerConfig {
                    listener: SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..config(&["A://h:1"], &[], None)
                },
                "cannot be combined with `listener`",
            ),
            (
                BrokerConfig { advertised_port: Some(1), ..config(&["A://h:1"], &[], None) },
                "cannot be combined with `listener`",
            ),
            (
                BrokerConfig { advertised_host: Some("h".into()), ..config(&[], &["PLAINTEXT://h:1"], None) },
                "`advertised_listeners` cannot be combined",
            ),
            (config(&["A://h:1", "A://h:2"], &[], None), "A appears twice in `listeners`"),
            (
                config(&["A://h:1", "B://h:2"], &["A://x:1", "A://y:1"], None),
                "twice in `advertised_listeners`",
            ),
            (config(&["A://h:9092", "B://0.0.0.0:9092"], &[], None), "both bind port 9092"),
            (config(&["A://h:1"], &["B://x:1"], None), "names B, which is not in the listeners (A)"),
            (config(&["A://h:1"], &["A://0.0.0.0:1"], None), "clients cannot connect"),
            (config(&["A://h:1"], &["A://:1"], None), "clients cannot connect"),
            (config(&["A://h:1", "B://h:2"], &[], Some("C")), "`inter_broker_listener_name` is C"),
            (config(&[], &[], Some("INTERNAL")), "not in the listeners (PLAINTEXT)"),
        ];
        for (config, expected) in cases {
            let err = ListenerPlan::from_config(&config).expect_err(expected).to_string();
            assert!(err.contains(expected), "expected `{expected}` in `{err}`");
        }
        // Two listeners on port 0 each get their own free port.
        assert!(ListenerPlan::from_config(&config(&["A://h:0", "B://h:0"], &[], None)).is_ok());
    }
}
