"""The deployment artefacts: the Helm chart (k8s/creativeloop) and the Prometheus config and rules.

The chart is linted (`helm lint --strict`), rendered with default values, with every option of
every service toggled and with one service at a time, and each rendering is validated against the
Kubernetes 1.34 API schemas (`kubernetes-validate --strict`). The rendered manifests are then
checked against the code: the services, default ports and environment variable names come from
`creativeloop.stack.local.SERVICES` and the settings classes, so the chart and the code cannot drift
apart. The model setups (embedded onnxruntime on CPU or GPU, the chart's own Triton on a GPU with an
S3 or volume repository, an external Triton) are rendered the same way, their CREATIVELOOP_MODELS_*
variables parsed back into ModelSettings, and inconsistent model values must fail `helm template`
with a message. The Prometheus config and rules go through `promtool check` and `promtool test rules`.

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

from creativeloop.kit.settings import CommonSettings, GrpcTlsSettings, KafkaSecuritySettings, ModelSettings
from creativeloop.stack.local import SERVICES, ServiceSpec

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "k8s" / "creativeloop"
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
INSTALLER = "scripts/install-ops-tools.sh"
KUBE_VERSION = "1.34.0"
RELEASE = "cl"
NAMESPACE = "ads"
#: Fields of a service settings class that are not environment variables of their own.
NOT_ENV_FIELDS = {"common", "tls"}
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
    """CommonSettings' variables, with Kafka security's (CREATIVELOOP_KAFKA_*) as every process reads them."""
    prefix = str(CommonSettings.model_config.get("env_prefix", ""))
    kafka_prefix = str(KafkaSecuritySettings.model_config.get("env_prefix", ""))
    own = {f"{prefix}{name}".upper() for name in CommonSettings.model_fields if name != "kafka"}
    return own | {f"{kafka_prefix}{name}".upper() for name in KafkaSecuritySettings.model_fields}


def check_kafka_security(c: Manifest, volumes: dict[str, Manifest], values: dict[str, Any]) -> None:
    """A Kafka client container: CREATIVELOOP_KAFKA_* from `kafka`, the password from its Secret."""
    kafka = values["kafka"]
    env = env_of(c)
    found = {n: e for n, e in env.items() if n.startswith("CREATIVELOOP_KAFKA_")}
    protocol = kafka.get("securityProtocol", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        assert not found and "kafka-tls" not in volumes
        return
    assert found["CREATIVELOOP_KAFKA_SECURITY_PROTOCOL"]["value"] == protocol
    if protocol.startswith("SASL_"):
        assert found["CREATIVELOOP_KAFKA_SASL_USERNAME"]["value"] == kafka["sasl"]["username"]
        assert found["CREATIVELOOP_KAFKA_SASL_MECHANISM"]["value"] == kafka["sasl"]["mechanism"]
        password = found["CREATIVELOOP_KAFKA_SASL_PASSWORD"]
        assert "value" not in password  # never in the manifest
        assert password["valueFrom"]["secretKeyRef"] == {
            "name": kafka["sasl"]["secretName"],
            "key": kafka["sasl"].get("passwordKey", "password"),
        }
    tls = kafka.get("tls", {})
    if tls.get("secretName"):
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        folder = Path(mounts["kafka-tls"])
        assert volumes["kafka-tls"]["secret"]["secretName"] == tls["secretName"]
        assert found["CREATIVELOOP_KAFKA_SSL_CA_FILE"]["value"] == str(folder / "ca.crt")
        items = {i["path"]: i["key"] for i in volumes["kafka-tls"]["secret"]["items"]}
        assert items["ca.crt"] == tls.get("caKey", "ca.crt")
        if tls.get("certKey"):
            assert items == {
                "ca.crt": tls["caKey"],
                "client.crt": tls["certKey"],
                "client.key": tls["keyKey"],
            }
            assert found["CREATIVELOOP_KAFKA_SSL_CERT_FILE"]["value"] == str(folder / "client.crt")
            assert found["CREATIVELOOP_KAFKA_SSL_KEY_FILE"]["value"] == str(folder / "client.key")


def model_env_names() -> set[str]:
    """CREATIVELOOP_MODELS_*: the model client's settings, which the chart sets on every service."""
    prefix = str(ModelSettings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in ModelSettings.model_fields}


def tls_env_names() -> set[str]:
    """CREATIVELOOP_GRPC_TLS_*: gRPC TLS, which the chart sets on every service when tls.enabled."""
    prefix = str(GrpcTlsSettings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in GrpcTlsSettings.model_fields}


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
    managed = {
        "grpc_host",
        "grpc_port",
        "metrics_port",
        "shutdown_grace_s",
        "health_port",
        "copygen_target",
        "data_dir",
    }
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
        if spec.name == "ranking":
            block["apprenticePolicy"] = "shared"
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
        "kafka": {
            "bootstrapServers": "kafka-0.kafka:9093,kafka-1.kafka:9093",
            "topicPartitions": 12,
            "securityProtocol": "SASL_SSL",
            "sasl": {"mechanism": "SCRAM-SHA-256", "username": "creativeloop", "secretName": "cl-kafka-user"},
            "tls": {
                "secretName": "cl-kafka-user",
                "caKey": "ca.crt",
                "certKey": "user.crt",
                "keyKey": "user.key",
                "mountPath": "/etc/kafka-tls",
            },
        },
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
        "tls": {
            "enabled": True,
            "secretName": "cl-grpc-tls",
            "mutual": True,
            "mountPath": "/etc/grpc-tls",
            "serverName": "creativeloop.ads.svc",
            "healthPort": 8087,
        },
        "networkPolicy": {
            "enabled": True,
            "grpcFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "adserver"}}}],
            "metricsFrom": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
            ],
        },
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
    tls = values["tls"]

    assert [*c["command"], *c["args"]] == ["creativeloop", "serve", spec.name]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    expected_ports = {"grpc": grpc_port, "metrics": metrics_port}
    if tls["enabled"]:
        expected_ports["health"] = tls["healthPort"]
    assert ports == expected_ports
    # Kubelet gRPC probes cannot speak TLS: with TLS they call the plaintext health-only port.
    probe_port = tls["healthPort"] if tls["enabled"] else grpc_port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["grpc"]["port"] == probe_port, (
            f"{spec.name} {probe} must be a gRPC probe on {probe_port}"
        )
        assert "httpGet" not in c[probe] and "exec" not in c[probe]

    env = env_of(c)
    allowed = common_env_names() | model_env_names() | tls_env_names() | service_env_names(spec)
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
    if spec.name == "ranking":  # apprentice mode, only when a candidate is named
        apprentice = env.get(f"{prefix}APPRENTICE_POLICY")
        if block.get("apprenticePolicy"):
            assert apprentice is not None and apprentice["value"] == block["apprenticePolicy"]
        else:
            assert apprentice is None
    assert {n: e["value"] for n, e in env.items() if n in model_env_names()} == expected_models_env(
        values, spec.name
    )
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
    check_kafka_security(c, volumes, values)
    tls_env = {n: e["value"] for n, e in env.items() if n in tls_env_names()}
    if tls["enabled"]:
        assert volumes["grpc-tls"]["secret"]["secretName"] == tls["secretName"]
        assert mounts["grpc-tls"] == tls["mountPath"]
        folder = Path(tls["mountPath"])
        expected_tls = {
            "CREATIVELOOP_GRPC_TLS_CERT_FILE": str(folder / "tls.crt"),
            "CREATIVELOOP_GRPC_TLS_KEY_FILE": str(folder / "tls.key"),
            "CREATIVELOOP_GRPC_TLS_CA_FILE": str(folder / "ca.crt"),
        }
        if tls["mutual"]:
            expected_tls |= {
                "CREATIVELOOP_GRPC_TLS_CLIENT_CA_FILE": str(folder / "ca.crt"),
                "CREATIVELOOP_GRPC_TLS_CLIENT_CERT_FILE": str(folder / "tls.crt"),
                "CREATIVELOOP_GRPC_TLS_CLIENT_KEY_FILE": str(folder / "tls.key"),
            }
        if tls["serverName"]:
            expected_tls["CREATIVELOOP_GRPC_TLS_SERVER_NAME"] = tls["serverName"]
        assert tls_env == expected_tls
        assert env[f"{prefix}HEALTH_PORT"]["value"] == str(tls["healthPort"])
    else:
        assert not tls_env and "grpc-tls" not in volumes and f"{prefix}HEALTH_PORT" not in env

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
    check_kafka_security(c, {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}, values)


def check_network_policy(manifests: list[Manifest], values: dict[str, Any]) -> None:
    """Ingress to the service pods: each other, `grpcFrom` on gRPC, `metricsFrom` on metrics."""
    policies = by_kind(manifests, "NetworkPolicy")
    if not values["networkPolicy"]["enabled"]:
        assert not policies
        return
    (policy,) = policies.values()
    selector = policy["spec"]["podSelector"]["matchLabels"]
    selected = {
        name
        for name, w in workloads(manifests).items()
        if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
    }
    assert selected == {spec.name for spec in SERVICES if values["services"][spec.name]["enabled"]}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = policy["spec"]["ingress"]
    own = {
        "podSelector": {
            "matchLabels": {k: v for k, v in selector.items() if k != "app.kubernetes.io/part-of"}
        }
    }
    assert rules[0] == {"from": [own]}
    assert {
        "from": values["networkPolicy"]["grpcFrom"],
        "ports": [{"port": "grpc", "protocol": "TCP"}],
    } in rules
    assert {
        "from": values["networkPolicy"]["metricsFrom"],
        "ports": [{"port": "metrics", "protocol": "TCP"}],
    } in rules
    assert len(rules) == 3


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
    check_network_policy(manifests, values)
    pdbs = by_kind(manifests, "PodDisruptionBudget")
    assert set(pdbs) == {component_name("ranking")}
    assert (
        pdbs[component_name("ranking")]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        == "ranking"
    )
    assert workloads(manifests)["ranking"]["spec"]["replicas"] >= 2
    assert not by_kind(manifests, "HorizontalPodAutoscaler")
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
    check_network_policy(manifests, values)
    assert not by_kind(manifests, "ServiceAccount")
    claims = by_kind(manifests, "PersistentVolumeClaim")
    assets = claims[f"{RELEASE}-creativeloop-assets"]
    assert assets["spec"]["accessModes"] == ["ReadWriteMany"]
    assert assets["spec"]["storageClassName"] == "nfs"
    assert claims[component_name("bandit")]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_ranking_autoscaling_on_cpu() -> None:
    """Ranking replicas from a HorizontalPodAutoscaler on CPU: the Deployment leaves `replicas` to it."""
    sets = [
        "services.ranking.autoscaling.enabled=true",
        "services.ranking.autoscaling.minReplicas=3",
        "services.ranking.autoscaling.maxReplicas=12",
        "services.ranking.autoscaling.targetCPUUtilizationPercentage=60",
    ]
    manifests = render(None, *sets)
    hpa = by_kind(manifests, "HorizontalPodAutoscaler")[component_name("ranking")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": component_name("ranking"),
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 60,
    }
    assert "replicas" not in workloads(manifests)["ranking"]["spec"]
    assert (
        workloads(manifests)["bandit"]["spec"]["replicas"]
        == default_values()["services"]["bandit"]["replicas"]
    )


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["services.ranking.autoscaling.enabled=true", "services.ranking.autoscaling.maxReplicas=1"],
            "maxReplicas must be >= minReplicas",
        ),
        (["services.ranking.autoscaling.targetCPUUtilizationPercentage=0"], "targetCPUUtilizationPercentage"),
    ],
)
def test_ranking_autoscaling_rejects_bad_values(sets: list[str], message: str) -> None:
    args = [tool("helm"), "template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr


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
        (["tls.enabled=true"], "tls.enabled needs tls.secretName"),
        (["kafka.securityProtocol=SASL_SSL"], "needs kafka.sasl.username and kafka.sasl.secretName"),
        (["kafka.tls.secretName=ca"], "kafka.tls.secretName needs kafka.securityProtocol SSL or SASL_SSL"),
        (["services.bandit.env.CREATIVELOOP_KAFKA_SASL_PASSWORD=x"], "set kafka.securityProtocol"),
        (["services.ranking.env.CREATIVELOOP_GRPC_TLS_CA_FILE=/x"], "set tls instead"),
        (["services.ranking.env.CREATIVELOOP_RANKING_HEALTH_PORT=1"], "set tls.healthPort instead"),
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


# --- models and Triton --------------------------------------------------------------------------

#: The model setups the chart supports, as values over the defaults.
MODEL_SCENARIOS: dict[str, dict[str, Any]] = {
    "embedded-cpu-default": {},
    "embedded-gpu-volume": {
        "models": {
            "intraOpThreads": 2,
            "interOpThreads": 2,
            "microBatchMax": 32,
            "microBatchWaitMs": 2.5,
            "existingClaim": "model-repository",
            "subPath": "v7",
        },
        # onnxruntime-gpu on the GPU for understanding only; the others stay on the CPU.
        "services": {
            "understanding": {
                "models": {"providers": "CUDAExecutionProvider,CPUExecutionProvider", "intraOpThreads": 4},
                "resources": {"limits": {"memory": "4Gi", "nvidia.com/gpu": 1}},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
            # 0 (onnxruntime's default) must win over the shared 2.
            "ranking": {"models": {"interOpThreads": 0}},
        },
    },
    "triton-gpu-s3": {
        "models": {"backend": "triton", "tritonTimeoutSeconds": 3, "tritonRetries": 4},
        "triton": {
            "enabled": True,
            "replicas": 2,
            "image": {"tag": "26.08-py3", "pullPolicy": "Always"},
            "gpu": {"enabled": True, "count": 1},
            "modelRepository": {"url": "s3://ads-models/creativeloop/v7", "credentialsSecret": "models-s3"},
            "modelConfigName": "gpu",
            "extraArgs": ["--log-verbose=1"],
            "nodeSelector": {"pool": "gpu"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
            "pdb": {"enabled": True, "minAvailable": 1},
            "strategy": {"type": "Recreate"},
            "env": {"AWS_DEFAULT_REGION": "eu-west-1"},
        },
    },
    "triton-cpu-pvc": {
        "models": {"backend": "triton"},
        "triton": {
            "enabled": True,
            "modelRepository": {
                "persistence": {"enabled": True, "storageClass": "nfs", "size": "20Gi"},
                "subPath": "repository",
            },
        },
    },
    "triton-existing-claim": {
        "models": {"backend": "triton"},
        "triton": {
            "enabled": True,
            "gpu": {"enabled": True, "count": 2},
            "modelRepository": {"existingClaim": "models"},
        },
    },
    "external-triton": {"models": {"backend": "triton", "tritonUrl": "triton.ml.svc.cluster.local:8001"}},
}


def deep_merge(base: Any, over: Any) -> Any:
    """`over` on top of `base`, maps merged key by key (as Helm merges a values file)."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {
            key: deep_merge(base.get(key), over[key]) if key in over else base[key] for key in {*base, *over}
        }
    return json.loads(json.dumps(over))


def scenario_values(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = deep_merge(default_values(), MODEL_SCENARIOS[name])
    return merged


def as_env_value(value: Any) -> str:
    """How the chart writes a number or string into an environment variable."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def expected_models_env(values: dict[str, Any], service: str) -> dict[str, str]:
    """The CREATIVELOOP_MODELS_* variables `service` must carry for `values`."""
    models = deep_merge(default_values()["models"], values.get("models", {}))
    models = deep_merge(models, values["services"][service].get("models", {}))
    triton = deep_merge(default_values()["triton"], values.get("triton", {}))
    env = {"CREATIVELOOP_MODELS_BACKEND": models["backend"]}
    if models["backend"] == "embedded":
        env |= {
            "CREATIVELOOP_MODELS_REPOSITORY": models["repositoryPath"],
            "CREATIVELOOP_MODELS_PROVIDERS": models["providers"],
            "CREATIVELOOP_MODELS_INTRA_OP_THREADS": as_env_value(models["intraOpThreads"]),
            "CREATIVELOOP_MODELS_INTER_OP_THREADS": as_env_value(models["interOpThreads"]),
            "CREATIVELOOP_MODELS_MICRO_BATCH_MAX": as_env_value(models["microBatchMax"]),
            "CREATIVELOOP_MODELS_MICRO_BATCH_WAIT_MS": as_env_value(models["microBatchWaitMs"]),
        }
    else:
        url = models["tritonUrl"] or f"{component_name('triton')}:{triton['ports']['grpc']}"
        env |= {
            "CREATIVELOOP_MODELS_TRITON_URL": url,
            "CREATIVELOOP_MODELS_TRITON_TIMEOUT_S": as_env_value(models["tritonTimeoutSeconds"]),
            "CREATIVELOOP_MODELS_TRITON_RETRIES": as_env_value(models["tritonRetries"]),
        }
    return env


def render_scenario(name: str) -> list[Manifest]:
    unknown = OPERATOR_KINDS if MODEL_SCENARIOS[name].get("triton", {}).get("serviceMonitor") else frozenset()
    return render(MODEL_SCENARIOS[name], unknown_kinds=unknown)


def check_triton(manifests: list[Manifest], values: dict[str, Any]) -> None:
    """The Triton objects agree with `values` (or do not exist when Triton is off)."""
    triton = values["triton"]
    name = component_name("triton")
    objects = {m["kind"]: m for m in manifests if m["metadata"]["name"].startswith(name)}
    if not triton["enabled"]:
        assert not objects, f"Triton is off but the chart rendered {sorted(objects)}"
        assert "triton" not in workloads(manifests)
        return
    workload = workloads(manifests)["triton"]
    assert workload["metadata"]["name"] == name
    assert workload["spec"]["replicas"] == triton["replicas"]
    pod = workload["spec"]["template"]["spec"]
    c = container(workload)
    assert c["image"] == f"{triton['image']['repository']}:{triton['image']['tag']}"
    assert c["image"].startswith("nvcr.io/nvidia/tritonserver:") and c["image"].endswith("-py3")
    # The image's entrypoint (CUDA compatibility checks) must stay: args only, no command.
    assert "command" not in c
    args = c["args"]
    assert args[0] == "tritonserver"
    repo = triton["modelRepository"]
    repository = repo["url"] or repo["mountPath"]
    assert f"--model-repository={repository}" in args
    for flag in (
        "--model-control-mode=none",
        "--disable-auto-complete-config",
        "--strict-readiness=true",
        "--exit-on-error=true",
        f"--exit-timeout-secs={triton['exitTimeoutSeconds']}",
        f"--http-port={triton['ports']['http']}",
        f"--grpc-port={triton['ports']['grpc']}",
        f"--metrics-port={triton['ports']['metrics']}",
        f"--allow-gpu-metrics={str(triton['gpu']['enabled']).lower()}",
        *triton["extraArgs"],
    ):
        assert flag in args, f"tritonserver lacks {flag}: {args}"
    config_name = [a for a in args if a.startswith("--model-config-name")]
    assert config_name == (
        [f"--model-config-name={triton['modelConfigName']}"] if triton["modelConfigName"] else []
    )
    assert triton["exitTimeoutSeconds"] < pod["terminationGracePeriodSeconds"]

    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002} == triton["ports"]
    for probe, path in (
        ("startupProbe", "/v2/health/ready"),
        ("livenessProbe", "/v2/health/live"),
        ("readinessProbe", "/v2/health/ready"),
    ):
        assert c[probe]["httpGet"] == {"path": path, "port": "http"}, f"triton {probe}"
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300, "models need time to load"

    limits = c["resources"].get("limits", {})
    if triton["gpu"]["enabled"]:
        assert limits["nvidia.com/gpu"] == triton["gpu"]["count"]
        assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        for key, value in triton["nodeSelector"].items():
            assert pod["nodeSelector"][key] == value
        for toleration in triton["tolerations"]:
            assert toleration in pod["tolerations"]
    else:
        assert "nvidia.com/gpu" not in limits
        assert "nvidia.com/gpu.present" not in pod.get("nodeSelector", {})

    # The tritonserver image's user is uid/gid 1000 (triton-server).
    assert pod["securityContext"]["runAsUser"] == 1000 and pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["tmp"]["mountPath"] == "/tmp" and mounts["shm"]["mountPath"] == "/dev/shm"
    assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
    env = env_of(c)
    if repo["url"]:
        assert "models" not in mounts
        secrets = [source["secretRef"]["name"] for source in c.get("envFrom", [])]
        assert secrets == ([repo["credentialsSecret"]] if repo["credentialsSecret"] else [])
    else:
        claim = repo["existingClaim"] or f"{name}-models"
        assert volumes["models"]["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}
        assert mounts["models"]["mountPath"] == repo["mountPath"] and mounts["models"]["readOnly"] is True
        assert mounts["models"].get("subPath", "") == repo["subPath"]
    for key, value in triton["env"].items():
        assert env[key]["value"] == str(value)

    claims = by_kind(manifests, "PersistentVolumeClaim")
    if repo["persistence"]["enabled"] and not repo["existingClaim"]:
        created = claims[f"{name}-models"]
        assert created["spec"]["accessModes"] == repo["persistence"]["accessModes"]
        assert created["spec"]["resources"]["requests"]["storage"] == repo["persistence"]["size"]
    else:
        assert f"{name}-models" not in claims

    service = by_kind(manifests, "Service")[name]
    assert service["spec"]["selector"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert service_ports == {"http": (8000, "http"), "grpc": (8001, "grpc"), "metrics": (8002, "metrics")}
    # No CreativeLoop service's selector may pick up the Triton pods, and the other way round.
    for spec in SERVICES:
        if spec.name in workloads(manifests):
            svc = by_kind(manifests, "Service")[component_name(spec.name)]
            assert (
                not svc["spec"]["selector"].items()
                <= workload["spec"]["template"]["metadata"]["labels"].items()
            )

    pdb = by_kind(manifests, "PodDisruptionBudget").get(name)
    assert (pdb is not None) == triton["pdb"]["enabled"]
    if pdb is not None:
        assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "triton"


@pytest.mark.parametrize("scenario", sorted(MODEL_SCENARIOS))
def test_model_scenario_lints_strict(scenario: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run(
            [
                tool("helm"),
                "lint",
                "--strict",
                str(CHART),
                *values_args(MODEL_SCENARIOS[scenario], (), folder),
            ]
        )


@pytest.mark.parametrize("scenario", sorted(MODEL_SCENARIOS))
def test_model_scenario_renders(scenario: str) -> None:
    """Valid against the 1.34 schemas; every service carries the model env; Triton as configured."""
    values = scenario_values(scenario)
    manifests = render_scenario(scenario)
    expected_workloads = {spec.name for spec in SERVICES} | (
        {"triton"} if values["triton"]["enabled"] else set()
    )
    assert set(workloads(manifests)) == expected_workloads
    for spec in SERVICES:
        check_service(manifests, spec, values)
    check_topics_job(manifests, values)
    check_triton(manifests, values)

    models = values["models"]
    for spec in SERVICES:
        pod = workloads(manifests)[spec.name]["spec"]["template"]["spec"]
        mounts = {m["name"]: m for m in container(workloads(manifests)[spec.name])["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        if models["backend"] == "embedded" and models["existingClaim"]:
            assert mounts["models"]["mountPath"] == models["repositoryPath"]
            assert mounts["models"]["readOnly"] is True
            assert mounts["models"].get("subPath", "") == models["subPath"]
            assert volumes["models"]["persistentVolumeClaim"]["claimName"] == models["existingClaim"]
        else:
            assert "models" not in mounts and "models" not in volumes


@pytest.mark.parametrize("scenario", sorted(MODEL_SCENARIOS))
def test_rendered_models_env_is_valid_for_model_settings(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart's variables parse into the ModelSettings the services build their client from."""
    values = scenario_values(scenario)
    manifests = render_scenario(scenario)
    for spec in SERVICES:
        env = env_of(container(workloads(manifests)[spec.name]))
        for name in model_env_names():
            monkeypatch.delenv(name, raising=False)
        for name in model_env_names() & set(env):
            monkeypatch.setenv(name, env[name]["value"])
        settings = ModelSettings()
        models = deep_merge(values["models"], values["services"][spec.name].get("models", {}))
        assert settings.backend == models["backend"]
        if settings.backend == "triton":
            assert (
                settings.triton_url
                == expected_models_env(values, spec.name)["CREATIVELOOP_MODELS_TRITON_URL"]
            )
            assert settings.triton_retries == models["tritonRetries"]
        else:
            assert str(settings.repository) == models["repositoryPath"]
            assert settings.provider_list == models["providers"].split(",")
            assert settings.intra_op_threads == models["intraOpThreads"]
            assert settings.micro_batch_wait_ms == models["microBatchWaitMs"]


def test_per_service_model_overrides() -> None:
    """A service's own `models` block changes its variables only (here: CUDA for understanding)."""
    manifests = render_scenario("embedded-gpu-volume")
    providers = {
        spec.name: env_of(container(workloads(manifests)[spec.name]))["CREATIVELOOP_MODELS_PROVIDERS"][
            "value"
        ]
        for spec in SERVICES
    }
    assert providers.pop("understanding") == "CUDAExecutionProvider,CPUExecutionProvider"
    assert set(providers.values()) == {"CPUExecutionProvider"}
    understanding = container(workloads(manifests)["understanding"])
    assert understanding["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_chart_sets_every_model_setting() -> None:
    """Between the two backends the chart sets every ModelSettings field, and nothing else."""
    rendered: set[str] = set()
    for scenario in ("embedded-cpu-default", "external-triton"):
        env = env_of(container(workloads(render_scenario(scenario))["ranking"]))
        rendered |= {name for name in env if name.startswith("CREATIVELOOP_MODELS_")}
    assert rendered == model_env_names()


def test_triton_service_monitor_is_separate() -> None:
    """CreativeLoop's ServiceMonitor (job=creativeloop) leaves Triton to its own (job=triton)."""
    manifests = render(
        MODEL_SCENARIOS["triton-gpu-s3"],
        "metrics.serviceMonitor.enabled=true",
        "triton.serviceMonitor.enabled=true",
        "triton.serviceMonitor.labels.release=prometheus",
        unknown_kinds=OPERATOR_KINDS,
    )
    monitors = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ServiceMonitor"}
    services = by_kind(manifests, "Service")

    def selected(monitor: Manifest) -> set[str]:
        selector = monitor["spec"]["selector"]
        found = set()
        for name, service in services.items():
            labels = service["metadata"]["labels"]
            if not selector["matchLabels"].items() <= labels.items():
                continue
            excluded = any(
                e["operator"] == "NotIn" and labels.get(e["key"]) in e["values"]
                for e in selector.get("matchExpressions", [])
            )
            if not excluded:
                found.add(name)
        return found

    assert selected(monitors[f"{RELEASE}-creativeloop"]) == {component_name(spec.name) for spec in SERVICES}
    triton_monitor = monitors[component_name("triton")]
    assert selected(triton_monitor) == {component_name("triton")}
    assert triton_monitor["metadata"]["labels"]["release"] == "prometheus"
    assert [e["port"] for e in triton_monitor["spec"]["endpoints"]] == ["metrics"]
    job_label = triton_monitor["spec"]["jobLabel"]
    assert services[component_name("triton")]["metadata"]["labels"][job_label] == "triton"


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["models.backend=triton"], "models.backend=triton needs a Triton server"),
        (["triton.enabled=true"], "triton.enabled needs a model repository"),
        (
            [
                "triton.enabled=true",
                "triton.modelRepository.url=s3://b/m",
                "triton.modelRepository.existingClaim=m",
            ],
            "set only one of url, existingClaim and persistence.enabled",
        ),
        (
            [
                "triton.enabled=true",
                "triton.modelRepository.existingClaim=m",
                "triton.modelRepository.credentialsSecret=s",
            ],
            "credentialsSecret is for object storage",
        ),
        (
            ["triton.enabled=true", "triton.modelRepository.url=s3://b/m", "triton.exitTimeoutSeconds=60"],
            "must be below triton.terminationGracePeriodSeconds",
        ),
        (
            ["models.backend=triton", "models.tritonUrl=t:8001", "models.existingClaim=m"],
            "models.existingClaim mounts the repository for the embedded backend",
        ),
        (
            ["services.ranking.env.CREATIVELOOP_MODELS_PROVIDERS=CUDAExecutionProvider"],
            "set models.providers or services.ranking.models.providers instead",
        ),
        (["commonEnv.CREATIVELOOP_MODELS_TRITON_URL=x:8001"], "set models.tritonUrl instead"),
        (["models.backend=onnx"], "at '/models/backend': value must be one of"),
        (
            ["triton.enabled=true", "triton.modelRepository.url=http://b/m"],
            "at '/triton/modelRepository/url'",
        ),
        (["models.tritonUrl=grpc://triton:8001"], "at '/models/tritonUrl'"),
        (["triton.gpus=1"], "additional properties 'gpus' not allowed"),
        (["services.ranking.models.backend=triton"], "additional properties 'backend' not allowed"),
    ],
)
def test_chart_rejects_inconsistent_model_values(sets: list[str], message: str) -> None:
    args = [tool("helm"), "template", RELEASE, str(CHART), "--kube-version", KUBE_VERSION]
    for item in sets:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0, f"helm template accepted {sets}"
    assert message in result.stderr, result.stderr
