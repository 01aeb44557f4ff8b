//! A real Prometheus (Debian's package, started here on a free port) scrapes a 3-controller,
//! 3-broker cluster of `strom` processes with the shipped alert rules (`deploy/prometheus/alerts.yml`).
//! Killing a broker must show in Prometheus: under-replicated partitions > 0 and the
//! StromUnderReplicatedPartitions alert pending or firing (StromBrokerDown too); once the broker is
//! back, under-replicated partitions return to 0.
//!
//! Needs `prometheus` on PATH (or `$PROMETHEUS_BIN`); `scripts/setup-test-env.sh` installs it. A
//! missing binary fails the test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use strom_tests::cluster::{ClusterOptions, ClusterProcesses, free_ports};
use strom_tests::http::{get_ok, url_encode};
use strom_tests::{kafka, unique_topic, wait_until};

/// How long Prometheus may take to see a change (scrape and rule evaluation every second).
const SEE_TIMEOUT: Duration = Duration::from_secs(60);

/// A Prometheus server process; killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn prometheus_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PROMETHEUS_BIN") {
        return bin.into();
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "prometheus not found on PATH (install it with scripts/setup-test-env.sh or set PROMETHEUS_BIN)"
        )
    })
}

impl Prometheus {
    /// Starts Prometheus scraping `brokers` and `controllers` every second with the shipped rules.
    fn start(brokers: &[SocketAddr], controllers: &[SocketAddr]) -> Self {
        let dir = tempfile::Builder::new().prefix("strom-prometheus-").tempdir().expect("temp dir");
        let targets =
            |addrs: &[SocketAddr]| addrs.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
        let rules = repo_root().join("deploy/prometheus/alerts.yml");
        assert!(rules.is_file(), "{} missing", rules.display());
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - '{}'\n\
             scrape_configs:\n\
             \x20 - job_name: strom-brokers\n    static_configs:\n      - targets: [{}]\n\
             \x20 - job_name: strom-controllers\n    static_configs:\n      - targets: [{}]\n",
            rules.display(),
            targets(brokers),
            targets(controllers),
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_ports(1)[0]));
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(prometheus_bin())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Self { child, addr, _dir: dir };
        let up = wait_until(Duration::from_secs(30), || {
            prometheus.get("/-/ready").is_some_and(|b| b.contains("Ready"))
        });
        assert!(up, "prometheus did not become ready; log:\n{}", prometheus.log());
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET `path` on the HTTP API; the body of a 200 answer.
    fn get(&self, path: &str) -> Option<String> {
        get_ok(self.addr, path)
    }

    /// The value of an instant query returning one sample.
    fn scalar(&self, query: &str) -> Option<f64> {
        let body = self.get(&format!("/api/v1/query?query={}", url_encode(query)))?;
        let json: Value = serde_json::from_str(&body).ok()?;
        let result = json["data"]["result"].as_array()?;
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// States (`pending`, `firing`) of the active alerts named `name`.
    fn alert_states(&self, name: &str) -> Vec<String> {
        let Some(body) = self.get("/api/v1/alerts") else { return Vec::new() };
        let Ok(json) = serde_json::from_str::<Value>(&body) else { return Vec::new() };
        json["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["labels"]["alertname"] == name)
            .filter_map(|a| a["state"].as_str().map(str::to_string))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_under_replicated_partitions_when_a_broker_dies() {
    let options = ClusterOptions { broker_config: "replica_lag_time_max_ms = 2000\n".into() };
    let mut cluster = ClusterProcesses::start_with(3, 3, options);
    let topic = unique_topic("prom");
    kafka::create_replicated_topic(&kafka::admin(&cluster.bootstrap()), &topic, 3, 3, &[]).await;

    let brokers: Vec<SocketAddr> =
        cluster.broker_ids().iter().map(|id| cluster.broker_metrics_addr(*id)).collect();
    let controllers: Vec<SocketAddr> =
        [1, 2, 3].iter().map(|id| cluster.controller_metrics_addr(*id)).collect();
    // Every node answers its own endpoints before Prometheus starts.
    for addr in brokers.iter().chain(&controllers) {
        assert!(get_ok(*addr, "/health/live").is_some(), "{addr} /health/live");
        let ready = wait_until(SEE_TIMEOUT, || get_ok(*addr, "/health/ready").is_some());
        assert!(ready, "{addr} never became ready");
    }
    let prometheus = Prometheus::start(&brokers, &controllers);

    let all_up = wait_until(SEE_TIMEOUT, || {
        prometheus.scalar("count(up == 1)") == Some(6.0)
            && prometheus.scalar("sum(strom_under_replicated_partitions)") == Some(0.0)
            && prometheus.scalar("sum(strom_leader_partitions)") == Some(3.0)
            && prometheus.scalar("sum(strom_active_controller)") == Some(1.0)
    });
    assert!(all_up, "cluster not healthy in Prometheus; log:\n{}", prometheus.log());

    let victim = 3;
    cluster.kill9_broker(victim);
    let seen = wait_until(SEE_TIMEOUT, || {
        prometheus.scalar("sum(strom_under_replicated_partitions)").is_some_and(|v| v > 0.0)
            && !prometheus.alert_states("StromUnderReplicatedPartitions").is_empty()
    });
    assert!(
        seen,
        "no under-replicated partitions / alert in Prometheus after killing broker {victim} (URP {:?}, alert {:?})",
        prometheus.scalar("sum(strom_under_replicated_partitions)"),
        prometheus.alert_states("StromUnderReplicatedPartitions"),
    );
    let states = prometheus.alert_states("StromUnderReplicatedPartitions");
    assert!(states.iter().all(|s| s == "pending" || s == "firing"), "alert states {states:?}");
    let down = wait_until(SEE_TIMEOUT, || !prometheus.alert_states("StromBrokerDown").is_empty());
    assert!(down, "StromBrokerDown not pending/firing with broker {victim} dead");

    cluster.restart_broker(victim);
    let healed = wait_until(SEE_TIMEOUT, || {
        prometheus.scalar("count(up == 1)") == Some(6.0)
            && prometheus.scalar("sum(strom_under_replicated_partitions)") == Some(0.0)
    });
    assert!(
        healed,
        "under-replicated partitions did not return to 0 after broker {victim} came back (URP {:?})",
        prometheus.scalar("sum(strom_under_replicated_partitions)")
    );
}
