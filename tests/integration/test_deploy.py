"""The deployment artefacts: the Helm chart (k8s/creativeloop) and the Prometheus config and rules.

The chart is linted (`helm lint --strict`), rendered with default values, with every option of
every service toggled and with one service at a time, and each rendering is validated against the
Kubernetes 1.34 API schemas (`kubernetes-validate --strict`). The rendered manifests are then
checked against the code: the services, default ports and environment variable names come from
`creativeloop.stack.SERVICES` and the settings classes, so the chart and the code cannot drift
apart. The Prometheus config and rules go through `promtool check` and `promtool test rules`.

The tools come from scripts/install-ops-tools.sh (helm and kubernetes-validate under .tools/bin,
prometheus/promtool from apt); a missing tool fails the test with that hint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from creativeloop.kit.settings import CommonSettings
from creativeloop.stack import SERVICES, ServiceSpec

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "k8s" / "creativeloop"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
INSTALLER = "scripts/install-ops-tools.sh"
KUBE_VERSION = "1.34.0"
RELEASE = "cl"
NAMESPACE = "ads"
#: Fields of a service settings class that are not environment variables of their own.
NOT_ENV_FIELDS = {"common"}
#: Kinds of the Prometheus Operator CRDs, which have no schema in kubernetes-validate.
OPERATOR_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})

Manifest = dict[str, Any]


# --- tools -------------------------------------------------------------------------------------


def tool(name: str) -> str:
    """Path of an ops tool: .tools/bin (the installer's), this interpreter's bin, then PATH."""
    for candidate in (REPO / ".tools" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found in .tools/bin, {Path(sys.executable).parent} or PATH: "
            f"run {INSTALLER} (as root on Debian 12) first",
            pytrace=False,
        )
    return found


def run(args: list[str], stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a tool; fail the test with its output if it exits non-zero."""
    result = subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result


def yaml_module() -> Any:
    try:
        import yaml
    except ImportError:
        pytest.fail(
            "PyYAML is missing: add pyyaml to the dev extras (or run "
            f"{INSTALLER}, whose kubernetes-validate pulls it into the venv)",
            pytrace=False,
        )
    return yaml


def load_yaml_file(path: Path) -> Any:
    return yaml_module().safe_load(path.read_text())


# --- rendering ---------------------------------------------------------------------------------


def helm_template(*args: str) -> str:
    return run(
        [
            tool("helm"),
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            KUBE_VERSION,
            *args,
        ]
    ).stdout


def kubernetes_validate(manifests: str, unknown_kinds: frozenset[str] = frozenset()) -> None:
    """Validate against the Kubernetes schemas; only `unknown_kinds` may lack a schema."""
    result = run(
        [tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBE_VERSION, "-"], stdin=manifests
    )
    unvalidated = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    unexpected = [line for line in unvalidated if not any(f"kind {k} " in line for k in unknown_kinds)]
    assert not unexpected, f"resources kubernetes-validate could not check: {unexpected}"


def values_args(values: dict[str, Any] | None, sets: tuple[str, ...], folder: str) -> list[str]:
    """`--values` (written as JSON, which is YAML) and `--set` arguments."""
    args: list[str] = []
    if values is not None:
        values_file = Path(folder) / "values.json"
        values_file.write_text(json.dumps(values))
        args += ["--values", str(values_file)]
    for item in sets:
        args += ["--set", item]
    return args


def render(
    values: dict[str, Any] | None = None, *sets: str, unknown_kinds: frozenset[str] = frozenset()
) -> list[Manifest]:
    """`helm template` with `values` and `--set`s, validated against the Kubernetes schemas."""
    with tempfile.TemporaryDirectory() as folder:
        text = helm_template(*values_args(values, sets, folder))
    kubernetes_validate(text, unknown_kinds)
    return [doc for doc in yaml_module().safe_load_all(text) if doc]


def component_name(service: str) -> str:
    return f"{RELEASE}-creativeloop-{service}"


def by_kind(manifests: list[Manifest], *kinds: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] in kinds}


def workloads(manifests: list[Manifest]) -> dict[str, Manifest]:
    """Deployments and StatefulSets by component (service name)."""
    found = {}
    for m in manifests:
        if m["kind"] in ("Deployment", "StatefulSet"):
            found[m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]] = m
    return found


def container(workload: Manifest) -> Manifest:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: expected one container"
    result: Manifest = containers[0]
    return result


def env_of(c: Manifest) -> dict[str, Manifest]:
    names = [e["name"] for e in c.get("env", [])]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"{c['name']}: environment variables set twice: {duplicates}"
    return {e["name"]: e for e in c.get("env", [])}


# --- what the code says ------------------------------------------------------------------------


def common_env_names() -> set[str]:
    prefix = str(CommonSettings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in CommonSettings.model_fields}


def service_env_names(spec: ServiceSpec) -> set[str]:
    return {
        f"{spec.env_prefix}{name}".upper()
        for name in spec.settings.model_fields
        if name not in NOT_ENV_FIELDS
    }


def default_port(spec: ServiceSpec, field: str) -> int:
    return int(spec.settings.model_fields[field].default)


def a_setting(spec: ServiceSpec) -> str:
    """The env var of a setting the service declares itself (not one the chart manages)."""
    managed = {"grpc_host", "grpc_port", "metrics_port", "shutdown_grace_s", "copygen_target", "data_dir"}
    base = {*managed, "max_message_bytes", *NOT_ENV_FIELDS}
    own = [name for name in spec.settings.model_fields if name not in base]
    return f"{spec.env_prefix}{(own or ['max_message_bytes'])[0]}".upper()


def toggled_values() -> dict[str, Any]:
    """Every option of every service set to a non-default value (ServiceMonitor stays off)."""
    services: dict[str, Any] = {}
    for i, spec in enumerate(SERVICES):
        block: dict[str, Any] = {
            "enabled": True,
            "replicas": 1 if spec.name == "bandit" else 3,
            "image": {
                "repository": f"registry.example.com/ads/{spec.name}",
                "tag": "9.9.9",
                "pullPolicy": "Always",
            },
            "grpcPort": 6001 + i,
            "metricsPort": 7001 + i,
            "shutdownGraceSeconds": 12,
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
            "env": {a_setting(spec): "7", "TZ": "UTC"},
            "extraEnv": [
                {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tokens", "key": spec.name}}}
            ],
            "probes": {
                "startup": {"failureThreshold": 10},
                "liveness": {"periodSeconds": 20},
                "readiness": {"timeoutSeconds": 3},
            },
            "podAnnotations": {"example.com/owner": "ads"},
            "nodeSelector": {"pool": spec.name},
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "ads", "effect": "NoSchedule"}
            ],
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": {"app.kubernetes.io/component": spec.name}},
                            },
                        }
                    ]
                }
            },
            "pdb": {"enabled": True, "maxUnavailable": 1},
        }
        if spec.name == "imagegen":
            block["copygenTarget"] = "copygen.elsewhere.svc:50052"
        if spec.name == "bandit":
            block["dataDir"] = "/data/bandit"
            block["persistence"] = {"enabled": True, "storageClass": "fast", "size": "2Gi"}
        services[spec.name] = block
    return {
        "image": {
            "repository": "registry.example.com/ads/creativeloop",
            "tag": "1.2.3",
            "pullPolicy": "Always",
        },
        "imagePullSecrets": [{"name": "registry"}],
        "kafka": {"bootstrapServers": "kafka-0.kafka:9092,kafka-1.kafka:9092", "topicPartitions": 12},
        "log": {"level": "DEBUG", "format": "console"},
        "assets": {
            "mountPath": "/data/assets",
            "persistence": {"enabled": True, "storageClass": "nfs", "size": "100Gi"},
        },
        "bindAddress": "0.0.0.0",
        "commonEnv": {"OTEL_SERVICE_NAMESPACE": "ads"},
        "serviceAccount": {"create": False, "name": "ads"},
        "podLabels": {"team": "ads"},
        "podAnnotations": {"example.com/scraped-by": "none"},
        "terminationGracePeriodSeconds": 45,
        "metrics": {
            "podAnnotations": False,
            "serviceMonitor": {"enabled": False},
            "prometheusRule": {"enabled": False},
        },
        "topicsJob": {"enabled": True, "hookEvents": "post-install,pre-upgrade", "backoffLimit": 2},
        "services": services,
    }


# --- checks shared by every rendering ----------------------------------------------------------


def check_service(manifests: list[Manifest], spec: ServiceSpec, values: dict[str, Any]) -> None:
    """One service's workload and Service agree with its settings class and with `values`."""
    block = values["services"][spec.name]
    grpc_port, metrics_port = block["grpcPort"], block["metricsPort"]
    workload = workloads(manifests)[spec.name]
    assert workload["metadata"]["name"] == component_name(spec.name)
    pod = workload["spec"]["template"]["spec"]
    c = container(workload)

    assert [*c["command"], *c["args"]] == ["creativeloop", "serve", spec.name]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"grpc": grpc_port, "metrics": metrics_port}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["grpc"]["port"] == grpc_port, (
            f"{spec.name} {probe} must be a gRPC probe on {grpc_port}"
        )
        assert "httpGet" not in c[probe] and "exec" not in c[probe]

    env = env_of(c)
    allowed = common_env_names() | service_env_names(spec)
    unknown = {n for n in env if n.startswith("CREATIVELOOP_")} - allowed
    assert not unknown, f"{spec.name}: the chart sets variables no settings class reads: {sorted(unknown)}"
    prefix = spec.env_prefix
    assert env[f"{prefix}GRPC_PORT"]["value"] == str(grpc_port)
    assert env[f"{prefix}METRICS_PORT"]["value"] == str(metrics_port)
    assert env[f"{prefix}GRPC_HOST"]["value"] == values["bindAddress"]
    assert env[f"{prefix}SHUTDOWN_GRACE_S"]["value"] == str(block["shutdownGraceSeconds"])
    assert float(block["shutdownGraceSeconds"]) < pod["terminationGracePeriodSeconds"]
    assert env["CREATIVELOOP_BOOTSTRAP_SERVERS"]["value"] == values["kafka"]["bootstrapServers"]
    assert env["CREATIVELOOP_TOPIC_PARTITIONS"]["value"] == str(values["kafka"]["topicPartitions"])
    assert env["CREATIVELOOP_LOG_FORMAT"]["value"] == values["log"]["format"]
    for name, value in block["env"].items():
        assert env[name]["value"] == str(value)
    for extra in block["extraEnv"]:
        assert env[extra["name"]] == extra

    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert env["CREATIVELOOP_ASSET_DIR"]["value"] == mounts["assets"] == values["assets"]["mountPath"]
    if values["assets"]["persistence"]["enabled"]:
        assert volumes["assets"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-creativeloop-assets"
    else:
        assert "emptyDir" in volumes["assets"]
    assert mounts["tmp"] == "/tmp" and "emptyDir" in volumes["tmp"]

    if spec.name == "imagegen":
        assert "copygen_target" in spec.settings.model_fields
        copygen = values["services"]["copygen"]
        expected = block.get("copygenTarget") or (
            f"{component_name('copygen')}:{copygen['grpcPort']}" if copygen["enabled"] else None
        )
        assert env.get(f"{prefix}COPYGEN_TARGET", {}).get("value") == expected
    if spec.name == "bandit":
        assert "data_dir" in spec.settings.model_fields
        assert env[f"{prefix}DATA_DIR"]["value"] == mounts["data"] == block["dataDir"]
        if block["persistence"]["enabled"]:
            assert workload["kind"] == "StatefulSet" or workload["spec"]["strategy"]["type"] == "Recreate"
            assert "persistentVolumeClaim" in volumes["data"]

    # Security: non-root, read-only root filesystem, no service-account token, no service links
    # (a Service named <release>-ranking would otherwise inject CREATIVELOOP_RANKING_* variables).
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False

    annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
    if values["metrics"]["podAnnotations"]:
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(metrics_port)
        assert annotations["prometheus.io/path"] == "/metrics"
    else:
        assert "prometheus.io/scrape" not in annotations

    service = by_kind(manifests, "Service")[component_name(spec.name)]
    assert service["spec"]["selector"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert service_ports == {"grpc": (grpc_port, "grpc"), "metrics": (metrics_port, "metrics")}
    assert service["metadata"]["labels"]["app.kubernetes.io/part-of"] == "creativeloop"


def check_topics_job(manifests: list[Manifest], values: dict[str, Any]) -> None:
    jobs = by_kind(manifests, "Job")
    if not values["topicsJob"]["enabled"]:
        assert not jobs
        return
    job = jobs[f"{RELEASE}-creativeloop-topics"]
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == set(values["topicsJob"]["hookEvents"].split(","))
    c = container(job)
    assert [*c["command"], *c["args"]] == ["creativeloop", "topics", "create"]
    env = env_of(c)
    assert {n for n in env if n.startswith("CREATIVELOOP_")} <= common_env_names()
    assert env["CREATIVELOOP_BOOTSTRAP_SERVERS"]["value"] == values["kafka"]["bootstrapServers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


# --- tests -------------------------------------------------------------------------------------


@cache
def default_values() -> dict[str, Any]:
    values: dict[str, Any] = load_yaml_file(CHART / "values.yaml")
    return values


def test_chart_lints_strict() -> None:
    run([tool("helm"), "lint", "--strict", str(CHART)])
    with tempfile.TemporaryDirectory() as folder:
        run([tool("helm"), "lint", "--strict", str(CHART), *values_args(toggled_values(), (), folder)])


def test_chart_has_exactly_the_services_of_the_code() -> None:
    values = default_values()
    assert set(values["services"]) == {spec.name for spec in SERVICES}
    for spec in SERVICES:
        block = values["services"][spec.name]
        assert block["grpcPort"] == default_port(spec, "grpc_port"), f"{spec.name}: grpcPort"
        assert block["metricsPort"] == default_port(spec, "metrics_port"), f"{spec.name}: metricsPort"


def test_default_render() -> None:
    values = default_values()
    manifests = render()
    assert set(workloads(manifests)) == {spec.name for spec in SERVICES}
    for spec in SERVICES:
        check_service(manifests, spec, values)
    check_topics_job(manifests, values)
    pdbs = by_kind(manifests, "PodDisruptionBudget")
    assert set(pdbs) == {component_name("ranking")}
    assert (
        pdbs[component_name("ranking")]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        == "ranking"
    )
    assert workloads(manifests)["ranking"]["spec"]["replicas"] >= 2
    assert not by_kind(manifests, "PersistentVolumeClaim")
    assert not [m for m in manifests if m["kind"] in OPERATOR_KINDS]


def test_render_with_every_option_toggled() -> None:
    values = toggled_values()
    manifests = render(values)
    found = workloads(manifests)
    assert set(found) == {spec.name for spec in SERVICES}
    for spec in SERVICES:
        check_service(manifests, spec, values)
        block = values["services"][spec.name]
        workload = found[spec.name]
        pod = workload["spec"]["template"]["spec"]
        c = container(workload)
        assert workload["spec"]["replicas"] == block["replicas"]
        assert c["image"] == f"{block['image']['repository']}:{block['image']['tag']}"
        assert c["imagePullPolicy"] == "Always"
        assert c["resources"] == block["resources"]
        assert c["livenessProbe"]["periodSeconds"] == 20
        assert (
            c["livenessProbe"]["failureThreshold"]
            == default_values()["probes"]["liveness"]["failureThreshold"]
        )
        assert c["startupProbe"]["failureThreshold"] == 10
        assert c["readinessProbe"]["timeoutSeconds"] == 3
        assert env_of(c)["OTEL_SERVICE_NAMESPACE"]["value"] == "ads"
        assert pod["serviceAccountName"] == "ads"
        assert pod["imagePullSecrets"] == [{"name": "registry"}]
        assert pod["nodeSelector"] == block["nodeSelector"]
        assert pod["tolerations"] == block["tolerations"]
        assert pod["affinity"] == block["affinity"]
        assert pod["terminationGracePeriodSeconds"] == 45
        assert workload["spec"]["template"]["metadata"]["labels"]["team"] == "ads"
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["example.com/owner"] == "ads" and annotations["example.com/scraped-by"] == "none"
        assert (
            by_kind(manifests, "PodDisruptionBudget")[component_name(spec.name)]["spec"]["maxUnavailable"]
            == 1
        )
    check_topics_job(manifests, values)
    assert not by_kind(manifests, "ServiceAccount")
    claims = by_kind(manifests, "PersistentVolumeClaim")
    assets = claims[f"{RELEASE}-creativeloop-assets"]
    assert assets["spec"]["accessModes"] == ["ReadWriteMany"]
    assert assets["spec"]["storageClassName"] == "nfs"
    assert claims[component_name("bandit")]["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.parametrize("only", [spec.name for spec in SERVICES])
def test_render_one_service_alone(only: str) -> None:
    values = default_values()
    sets = [f"services.{spec.name}.enabled={str(spec.name == only).lower()}" for spec in SERVICES]
    manifests = render(None, *sets)
    assert set(workloads(manifests)) == {only}
    assert set(by_kind(manifests, "Service")) == {component_name(only)}
    alone = json.loads(json.dumps(values))
    for spec in SERVICES:
        alone["services"][spec.name]["enabled"] = spec.name == only
    check_service(manifests, next(s for s in SERVICES if s.name == only), alone)
    check_topics_job(manifests, values)


def test_service_monitor_and_prometheus_rule() -> None:
    manifests = render(
        None,
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.labels.release=prometheus",
        "metrics.prometheusRule.enabled=true",
        unknown_kinds=OPERATOR_KINDS,
    )
    (monitor,) = [m for m in manifests if m["kind"] == "ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = by_kind(manifests, "Service")
    assert {name for name, s in services.items() if selector.items() <= s["metadata"]["labels"].items()} == {
        component_name(spec.name) for spec in SERVICES
    }
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    # job="creativeloop" on every target, as rules.yml's target alerts expect.
    job_label = monitor["spec"]["jobLabel"]
    assert {s["metadata"]["labels"][job_label] for s in services.values()} == {"creativeloop"}

    (rule,) = [m for m in manifests if m["kind"] == "PrometheusRule"]
    assert rule["spec"] == load_yaml_file(PROMETHEUS_DIR / "rules.yml")


def test_chart_rules_are_a_copy_of_deploy_rules() -> None:
    copy = CHART / "files" / "prometheus-rules.yml"
    original = PROMETHEUS_DIR / "rules.yml"
    assert copy.read_bytes() == original.read_bytes(), (
        f"cp {original.relative_to(REPO)} {copy.relative_to(REPO)}"
    )


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["services.ranking.env.CREATIVELOOP_RANKING_GRPC_PORT=1"], "set services.ranking.grpcPort instead"),
        (["commonEnv.CREATIVELOOP_BOOTSTRAP_SERVERS=x:9092"], "set kafka.bootstrapServers instead"),
        (["services.bandit.persistence.enabled=true", "services.bandit.replicas=2"], "replicas: 1"),
        (["services.ranking.shutdownGraceSeconds=60"], "must be below terminationGracePeriodSeconds"),
        (["services.ranking.replica=3"], "additional properties 'replica' not allowed"),
        (["kafka.bootstrapServers="], "bootstrapServers"),
    ],
)
def test_chart_rejects_bad_values(sets: list[str], message: str) -> None:
    args = [tool("helm"), "template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


# --- Prometheus ---------------------------------------------------------------------------------


def test_prometheus_config_is_valid() -> None:
    run([tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])


def test_prometheus_config_scrapes_every_default_metrics_port() -> None:
    config = load_yaml_file(PROMETHEUS_DIR / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "creativeloop"]
    targets = {
        static["labels"]["service"]: target
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {spec.name: f"127.0.0.1:{default_port(spec, 'metrics_port')}" for spec in SERVICES}


def test_prometheus_rules_are_valid() -> None:
    run([tool("promtool"), "check", "rules", str(PROMETHEUS_DIR / "rules.yml")])


def test_prometheus_rules_unit_tests() -> None:
    run([tool("promtool"), "test", "rules", "rules_test.yml"], cwd=PROMETHEUS_DIR)
