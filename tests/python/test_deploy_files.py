"""Offline checks of the deployment files in deploy/: Kubernetes manifests, Prometheus config and
alert rules, Grafana dashboard. Nothing here starts a broker or needs a network.

What is checked:
- deploy/k8s: every manifest listed in kustomization.yaml (and only those) validates against the
  Kubernetes JSON schemas bundled in the pinned `kubernetes-validate` wheel, in strict mode (unknown
  fields are errors), for the oldest and newest Kubernetes versions in K8S_VERSIONS. The ServiceMonitor
  (a CRD kind those schemas lack) validates against deploy/k8s/schemas/servicemonitor-*.schema.json,
  written from the prometheus-operator CRD's openAPIV3Schema for the fields we use, unknown fields
  rejected. Then the wiring no schema sees: selectors match pod labels, probes hit /health/* on the
  metrics port, ConfigMap keys exist, voters name the controller pods, `$(VAR)`s are defined before
  use, the ServiceMonitor yields the Prometheus job names, and no manifest names a namespace.
- deploy/prometheus: `promtool check config`, `promtool check rules` and `promtool test rules`
  (alerts_test.yml), the job names and targets, the set of alerts.
- deploy/grafana: the dashboard parses, its panels and variables are well-formed, every query is
  valid PromQL (`promtool check rules` on them as recording rules).
- Metric names used by the dashboard and the alert rules are the documented ones: docs/metrics.md
  (first table column, in backticks) when it exists, else SPEC_METRICS below.
- deploy/docker-compose.yml, when it exists: every scrape target host is one of its services.

promtool (Debian's `prometheus` package) and the Python packages come from scripts/setup-test-env.sh;
a missing one fails these tests rather than skipping them.
"""

import json
import pathlib
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "strom-dashboard.json"
COMPOSE = REPO_ROOT / "deploy" / "docker-compose.yml"
METRICS_DOC = REPO_ROOT / "docs" / "metrics.md"
SERVICEMONITOR_SCHEMA = K8S_DIR / "schemas" / "servicemonitor-monitoring-coreos-com-v1.schema.json"

# Oldest Kubernetes we claim to support and the newest kubernetes-validate bundles schemas for.
K8S_VERSIONS = ("1.27", "1.37")
METRICS_PORT = 9464
JOBS = {"strom-brokers", "strom-controllers"}
SETUP_HINT = "run scripts/setup-test-env.sh"

# Metric names the nodes expose (used when docs/metrics.md does not exist yet).
SPEC_METRICS = {
    # brokers
    "strom_under_replicated_partitions",
    "strom_under_min_isr_partitions",
    "strom_leader_partitions",
    "strom_partitions",
    "strom_isr_shrinks_total",
    "strom_isr_expands_total",
    "strom_request_duration_seconds",
    "strom_bytes_in_total",
    "strom_bytes_out_total",
    "strom_records_in_total",
    "strom_log_start_offset",
    "strom_log_end_offset",
    "strom_high_watermark",
    "strom_consumer_group_lag",
    "strom_consumer_group_lag_seconds",
    "strom_consumer_group_unowned_partitions",
    "strom_consumer_group_members",
    "strom_consumer_group_rebalances_total",
    "strom_broker_heartbeat_age_seconds",
    "strom_connections",
    "strom_connections_accepted_total",
    # controllers
    "strom_active_controller",
    "strom_offline_partitions",
    "strom_raft_term",
    "strom_raft_commit_index",
    "strom_raft_applied_index",
    "strom_raft_leader",
    "strom_active_brokers",
    "strom_fenced_brokers",
    "strom_broker_last_heartbeat_age_seconds",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

EXPECTED_ALERTS = {
    "StromUnderReplicatedPartitions",
    "StromUnderMinIsrPartitions",
    "StromOfflinePartitions",
    "StromActiveControllerCount",
    "StromBrokerDown",
    "StromBrokerFenced",
    "StromControllerDown",
    "StromConsumerLagHigh",
    "StromConsumerGroupUnownedPartitions",
}
# Grafana's own variables, usable in any query.
GRAFANA_BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__range_s", "__interval_ms"}


# ---------------------------------------------------------------------------------------------------
# helpers


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(f"promtool not found on PATH ({SETUP_HINT}: it installs Debian's `prometheus` package)")
    return path


def run_promtool(*args, cwd=REPO_ROOT):
    result = subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def kubernetes_validate():
    try:
        import kubernetes_validate as module  # noqa: PLC0415 - a missing package must fail, not error at import
    except ImportError as error:
        pytest.fail(f"kubernetes-validate is not installed in this Python ({SETUP_HINT}): {error}")
    return module


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def kustomization():
    return load_yaml(K8S_DIR / "kustomization.yaml")


def manifests():
    """(file name, document) for every document of every file kustomization.yaml lists."""
    documents = []
    for name in kustomization()["resources"]:
        with open(K8S_DIR / name, encoding="utf-8") as f:
            documents += [(name, doc) for doc in yaml.safe_load_all(f) if doc]
    return documents


def objects_by_kind():
    by_kind = {}
    for _, doc in manifests():
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return by_kind


def selector_matches(selector, labels):
    """Kubernetes label selector semantics (matchLabels and matchExpressions)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template_labels(statefulset):
    return statefulset["spec"]["template"]["metadata"]["labels"]


def only_container(statefulset):
    containers = statefulset["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{statefulset['metadata']['name']}: expected one container"
    return containers[0]


def container_port(container, port):
    """A probe's port (name or number) as a number."""
    if isinstance(port, int):
        return port
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in ports, f"container {container['name']} has no port named {port}"
    return ports[port]


def env_map(container):
    return {e["name"]: e for e in container.get("env", [])}


def parse_duration_s(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text}"
    return sum(int(n) * units[u] for n, u in parts)


def dashboard():
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def dashboard_panels():
    """Every panel, including those nested in collapsed rows."""
    panels = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels += panel.get("panels", [])
    return panels


def dashboard_queries():
    """(panel title, refId, expr) of every query target."""
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]


def dashboard_variable_queries():
    queries = []
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def alert_rules():
    return [rule for group in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"] for rule in group["rules"]]


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)


def strom_metric_names(text):
    return set(re.findall(r"(?<![A-Za-z0-9_:])strom_[A-Za-z0-9_:]*", strip_strings(text)))


def documented_metrics():
    """Metric names from docs/metrics.md (first column of its tables, in backticks), else the spec."""
    if not METRICS_DOC.exists():
        return SPEC_METRICS, "SPEC_METRICS in tests/python/test_deploy_files.py"
    names = set()
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("|"):
            continue
        first_cell = line.strip().strip("|").split("|")[0]
        names.update(re.findall(r"`(strom_[A-Za-z0-9_:]*)", first_cell))
    assert names, f"{METRICS_DOC} has no table whose first column names metrics in backticks"
    return names, str(METRICS_DOC.relative_to(REPO_ROOT))


def is_documented(name, documented):
    if name in documented:
        return True
    return any(name.endswith(suffix) and name[: -len(suffix)] in documented for suffix in HISTOGRAM_SUFFIXES)


def prometheus_config():
    return load_yaml(PROMETHEUS_DIR / "prometheus.yml")


def scrape_targets():
    """job name → list of host:port targets."""
    return {
        job["job_name"]: [t for static in job.get("static_configs", []) for t in static["targets"]]
        for job in prometheus_config()["scrape_configs"]
    }


# ---------------------------------------------------------------------------------------------------
# Kubernetes manifests


def test_kustomization_lists_every_manifest():
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed)), f"duplicates in kustomization.yaml: {listed}"
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml"}
    on_disk |= {p.name for p in K8S_DIR.glob("*.yml")}
    assert set(listed) == on_disk, "kustomization.yaml resources must be exactly the manifests in deploy/k8s"
    assert kustomization()["kind"] == "Kustomization"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_match_kubernetes_schemas(version):
    validator = kubernetes_validate()
    checked, errors = [], []
    for name, doc in manifests():
        if doc["kind"] == "ServiceMonitor":
            continue  # a CRD kind: test_servicemonitor_matches_crd_schema
        try:
            validator.validate(doc, version, strict=True)
            checked.append(f"{doc['kind']}/{doc['metadata']['name']}")
        except validator.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            errors.append(f"{name} {doc['kind']}/{doc['metadata']['name']}: {path}: {error.message}")
        except validator.SchemaNotFoundError as error:
            errors.append(f"{name}: {error.message}")
    assert not errors, f"against Kubernetes {version}:\n" + "\n".join(errors)
    kinds = {c.split("/")[0] for c in checked}
    assert {"ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget"} <= kinds, checked


def test_validator_rejects_a_bad_manifest():
    """The schema check is live: a misspelt field and a wrong type are caught (strict mode, offline)."""
    validator = kubernetes_validate()
    statefulset = objects_by_kind()["StatefulSet"]["strom-broker"]
    bad = json.loads(json.dumps(statefulset))
    bad["spec"]["replica"] = 3
    with pytest.raises(validator.ValidationError):
        validator.validate(bad, K8S_VERSIONS[-1], strict=True)
    bad = json.loads(json.dumps(statefulset))
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9092"
    with pytest.raises(validator.ValidationError):
        validator.validate(bad, K8S_VERSIONS[-1], strict=True)


def test_servicemonitor_matches_crd_schema():
    with open(SERVICEMONITOR_SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    monitors = objects_by_kind().get("ServiceMonitor", {})
    assert monitors, "no ServiceMonitor in deploy/k8s"
    for monitor in monitors.values():
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(monitor)]
        assert not errors, "\n".join(errors)
        for endpoint in monitor["spec"]["endpoints"]:
            # The operator rejects a scrape timeout longer than the interval.
            if "interval" in endpoint and "scrapeTimeout" in endpoint:
                assert parse_duration_s(endpoint["scrapeTimeout"]) <= parse_duration_s(endpoint["interval"])
    bad = json.loads(json.dumps(next(iter(monitors.values()))))
    bad["spec"]["endpoints"][0]["intervall"] = "15s"
    assert list(validator.iter_errors(bad)), "the ServiceMonitor schema must reject unknown fields"


def test_manifests_name_no_namespace():
    for name, doc in manifests():
        assert "namespace" not in doc["metadata"], f"{name}: {doc['kind']} names a namespace"


def test_statefulsets_are_wired_to_their_services():
    by_kind = objects_by_kind()
    services = by_kind["Service"]
    for role in ("controller", "broker"):
        statefulset = by_kind["StatefulSet"][f"strom-{role}"]
        spec = statefulset["spec"]
        labels = pod_template_labels(statefulset)
        assert spec["replicas"] == 3
        assert spec["podManagementPolicy"] == "Parallel"
        assert selector_matches(spec["selector"], labels)
        headless = services[spec["serviceName"]]
        assert spec["serviceName"] == f"strom-{role}"
        assert headless["spec"]["clusterIP"] == "None", f"{spec['serviceName']} must be headless"
        assert headless["spec"].get("publishNotReadyAddresses") is True
        assert selector_matches({"matchLabels": headless["spec"]["selector"]}, labels)
        container = only_container(statefulset)
        assert container["image"] == "strom:dev"
        assert container["args"] == [role]
        for port in headless["spec"]["ports"]:
            container_port(container, port["targetPort"])
        # Each volume claim template is mounted.
        mounts = {m["name"] for m in container.get("volumeMounts", [])}
        for claim in spec["volumeClaimTemplates"]:
            assert claim["metadata"]["name"] in mounts
        # Other StatefulSets' pods are not selected.
        for other in by_kind["StatefulSet"].values():
            if other is not statefulset:
                assert not selector_matches({"matchLabels": headless["spec"]["selector"]}, pod_template_labels(other))
    bootstrap = services["strom-kafka"]
    broker_labels = pod_template_labels(by_kind["StatefulSet"]["strom-broker"])
    assert selector_matches({"matchLabels": bootstrap["spec"]["selector"]}, broker_labels)
    assert not selector_matches(
        {"matchLabels": bootstrap["spec"]["selector"]}, pod_template_labels(by_kind["StatefulSet"]["strom-controller"])
    )
    assert [p["port"] for p in bootstrap["spec"]["ports"]] == [9092]


def test_pods_have_probes_resources_and_security():
    for statefulset in objects_by_kind()["StatefulSet"].values():
        name = statefulset["metadata"]["name"]
        template = statefulset["spec"]["template"]
        container = only_container(statefulset)
        for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
            http = container[probe]["httpGet"]
            assert http["path"] == path, f"{name} {probe}"
            assert container_port(container, http["port"]) == METRICS_PORT, f"{name} {probe} port"
        assert container_port(container, "metrics") == METRICS_PORT
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(METRICS_PORT)
        assert annotations["prometheus.io/path"] == "/metrics"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name} resources.{kind}"
        pod_security = template["spec"]["securityContext"]
        assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] > 0
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        # The root filesystem is read-only: the data directory is the claim's volume, /tmp an emptyDir.
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        data_dir = env_map(container)["STROM_DATA_DIR"]["value"]
        claims = {c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]}
        assert mounts.get(data_dir) in claims, f"{name}: {data_dir} is not on a volume claim"
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: /tmp must be an emptyDir"


def test_env_references_resolve():
    by_kind = objects_by_kind()
    config_maps = by_kind["ConfigMap"]
    for statefulset in by_kind["StatefulSet"].values():
        container = only_container(statefulset)
        defined = set()
        for entry in container["env"]:
            # Kubernetes expands $(VAR) only for variables defined earlier in the list.
            for reference in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", entry.get("value", "")):
                assert reference in defined, f"{entry['name']} uses $({reference}) before it is defined"
            ref = entry.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                assert ref["key"] in config_maps[ref["name"]]["data"], f"{entry['name']}: no key {ref['key']}"
            defined.add(entry["name"])
        env = env_map(container)
        assert env["STROM_NODE_ID_FROM_HOSTNAME"]["value"] == "true"
        assert "STROM_NODE_ID" not in env
        metrics_key = env["STROM_METRICS_LISTEN"]["valueFrom"]["configMapKeyRef"]["key"]
        assert config_maps["strom-config"]["data"][metrics_key].endswith(f":{METRICS_PORT}")


def test_controller_quorum_addresses():
    by_kind = objects_by_kind()
    controllers = by_kind["StatefulSet"]["strom-controller"]
    data = by_kind["ConfigMap"]["strom-config"]["data"]
    service = controllers["spec"]["serviceName"]
    container = only_container(controllers)
    grpc_port = container_port(container, "grpc")
    addresses = [f"strom-controller-{i}.{service}:{grpc_port}" for i in range(controllers["spec"]["replicas"])]
    # Node id = ordinal + 1 (STROM_NODE_ID_FROM_HOSTNAME).
    assert data["voters"] == ",".join(f"{i + 1}={a}" for i, a in enumerate(addresses))
    assert data["controllers"] == ",".join(addresses)
    env = env_map(container)
    assert env["STROM_CONTROLLER_LISTEN"]["value"] == f"0.0.0.0:{grpc_port}"
    assert env["STROM_VOTERS"]["valueFrom"]["configMapKeyRef"]["key"] == "voters"
    broker_env = env_map(only_container(by_kind["StatefulSet"]["strom-broker"]))
    assert broker_env["STROM_CONTROLLERS"]["valueFrom"]["configMapKeyRef"]["key"] == "controllers"


def test_brokers_advertise_their_stable_names():
    broker = objects_by_kind()["StatefulSet"]["strom-broker"]
    container = only_container(broker)
    env = env_map(container)
    kafka_port = container_port(container, "kafka")
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["STROM_LISTENERS"]["value"].endswith(f"://0.0.0.0:{kafka_port}")
    advertised = env["STROM_ADVERTISED_LISTENERS"]["value"]
    stable_name = rf"\$\(POD_NAME\)\.{broker['spec']['serviceName']}(\.\$\(POD_NAMESPACE\)\.svc)?"
    assert re.fullmatch(rf"[A-Z_]+://{stable_name}:{kafka_port}", advertised), advertised
    listener_names = {text.split("://")[0] for text in (env["STROM_LISTENERS"]["value"], advertised)}
    listener_names.add(env["STROM_INTER_BROKER_LISTENER_NAME"]["value"])
    assert len(listener_names) == 1, f"advertised and inter-broker listener must be the listener: {listener_names}"


def test_disruption_budgets_cover_each_statefulset():
    by_kind = objects_by_kind()
    budgets = by_kind["PodDisruptionBudget"].values()
    for statefulset in by_kind["StatefulSet"].values():
        matching = [b for b in budgets if selector_matches(b["spec"]["selector"], pod_template_labels(statefulset))]
        assert len(matching) == 1, f"{statefulset['metadata']['name']}: {len(matching)} PodDisruptionBudgets"
        assert matching[0]["spec"]["maxUnavailable"] == 1


def test_servicemonitor_yields_the_prometheus_jobs():
    by_kind = objects_by_kind()
    (monitor,) = by_kind["ServiceMonitor"].values()
    spec = monitor["spec"]
    selected = [s for s in by_kind["Service"].values() if selector_matches(spec["selector"], s["metadata"]["labels"])]
    assert {s["metadata"]["name"] for s in selected} == {"strom-controller", "strom-broker"}
    assert {s["metadata"]["labels"][spec["jobLabel"]] for s in selected} == JOBS
    assert JOBS == set(scrape_targets()), "ServiceMonitor jobs and prometheus.yml jobs differ"
    for endpoint in spec["endpoints"]:
        for service in selected:
            ports = {p["name"]: p for p in service["spec"]["ports"]}
            assert endpoint["port"] in ports, f"{service['metadata']['name']} has no port {endpoint['port']}"
            assert ports[endpoint["port"]]["port"] == METRICS_PORT
        assert endpoint.get("path", "/metrics") == "/metrics"


# ---------------------------------------------------------------------------------------------------
# Prometheus


def test_promtool_check_config():
    # Also checks the rule files it names (alerts.yml, resolved next to prometheus.yml).
    out = run_promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert "1 rule files found" in out, out


def test_promtool_check_rules():
    run_promtool("check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))


def test_promtool_alert_unit_tests():
    run_promtool("test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml"))


def test_prometheus_jobs_and_targets():
    config = prometheus_config()
    assert config["global"]["scrape_interval"] == "5s"
    assert config["rule_files"] == ["alerts.yml"], "mounted beside the config: /etc/prometheus/alerts.yml"
    targets = scrape_targets()
    assert set(targets) == JOBS
    assert targets["strom-controllers"] == [f"controller-{i}:{METRICS_PORT}" for i in (1, 2, 3)]
    assert targets["strom-brokers"] == [f"broker-{i}:{METRICS_PORT}" for i in (1, 2, 3)]


def test_alert_rules_are_complete():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert sorted(names) == sorted(EXPECTED_ALERTS)
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert "THRESHOLD" in rule["expr"], f"{rule['alert']}: mark the threshold with # THRESHOLD"
    tests = load_yaml(PROMETHEUS_DIR / "alerts_test.yml")
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested == EXPECTED_ALERTS, f"alerts without a unit test: {EXPECTED_ALERTS - tested}"


def test_compose_scrape_targets_are_compose_services():
    if not COMPOSE.exists():
        pytest.skip("deploy/docker-compose.yml does not exist yet")
    compose = load_yaml(COMPOSE)
    services = set(compose["services"])
    for job, targets in scrape_targets().items():
        for target in targets:
            host = target.rsplit(":", 1)[0]
            assert host in services, f"{job} target {target}: no service {host} in {COMPOSE.name}"
    # A service that mounts our files must mount them where prometheus.yml expects them.
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if not isinstance(volume, str) or ":" not in volume:
                continue
            source, target = volume.split(":")[:2]
            for file in ("prometheus.yml", "alerts.yml"):
                if source.endswith(f"prometheus/{file}"):
                    assert target == f"/etc/prometheus/{file}", f"{name} mounts {source} at {target}"


# ---------------------------------------------------------------------------------------------------
# Grafana dashboard and metric names


def test_dashboard_is_well_formed():
    board = dashboard()
    assert board["uid"] and board["title"]
    assert board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for name in ("topic", "group"):
        assert variables[name]["type"] == "query", name
    panels = dashboard_panels()
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    # Every $variable a query uses is defined (or one of Grafana's own).
    used = {v for _, _, expr in dashboard_queries() for v in re.findall(r"\$\{?(\w+)", expr)}
    assert used - GRAFANA_BUILTIN_VARIABLES <= set(variables), used - GRAFANA_BUILTIN_VARIABLES - set(variables)
    # The dashboard file stays readable (pretty-printed).
    assert len(DASHBOARD.read_text(encoding="utf-8").splitlines()) > 100


def test_dashboard_queries_are_valid_promql(tmp_path):
    rules = []
    for index, (title, ref, expr) in enumerate(dashboard_queries()):
        concrete = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
        concrete = re.sub(r"\$\{?\w+\}?", ".*", concrete)
        rules.append({"record": f"dashboard:query_{index}", "expr": concrete, "labels": {"panel": f"{title} {ref}"}})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run_promtool("check", "rules", str(path))
    for query in dashboard_variable_queries():
        assert re.fullmatch(r"label_values\(\s*strom_\w+\s*,\s*\w+\s*\)", query), query


def test_metric_names_are_documented():
    documented, source = documented_metrics()
    texts = [("dashboard", expr) for _, _, expr in dashboard_queries()]
    texts += [("dashboard variable", query) for query in dashboard_variable_queries()]
    for rule in alert_rules():
        texts.append((f"alert {rule['alert']}", rule["expr"]))
        texts += [(f"alert {rule['alert']} annotation", text) for text in rule["annotations"].values()]
    used = {(where, name) for where, text in texts for name in strom_metric_names(text)}
    unknown = sorted((where, name) for where, name in used if not is_documented(name, documented))
    assert not unknown, f"metric names not in {source}: {unknown}"
    # Job names used in selectors are the scrape jobs.
    jobs = {job for _, text in texts for job in re.findall(r'job\s*=~?\s*"([^"]+)"', text)}
    assert jobs <= JOBS, jobs - JOBS


def test_dashboard_shows_every_metric():
    used = {name for _, _, expr in dashboard_queries() for name in strom_metric_names(expr)}
    missing = {metric for metric in SPEC_METRICS if not any(is_documented(name, {metric}) for name in used)}
    assert not missing, f"no dashboard panel shows {sorted(missing)}"
