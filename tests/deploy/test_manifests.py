"""deploy/compose.yaml and deploy/kubernetes/: rendered by the tools a platform team uses
(`podman-compose config`, `kubectl kustomize`), every Kubernetes object validated against
the Kubernetes schemas, and the properties deploy/README.md promises checked one by one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose.yaml"
KUBERNETES_VERSION = "1.33"
# Kinds of the operators the overlay claims from: no schema for them in kubernetes-validate.
OPERATOR_KINDS = {("postgresql.cnpg.io/v1", "Cluster"), ("postgresql.cnpg.io/v1", "Database"),
                  ("postgresql.cnpg.io/v1", "ScheduledBackup"),
                  ("rabbitmq.com/v1beta1", "RabbitmqCluster")}
HUB_SERVICES = ("identity", "referral", "notify")


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl", "not installed (.ci/services installs Debian's kubectl)")
    assert kubectl is not None
    rendered = subprocess.run([kubectl, "kustomize", str(directory)], check=True,
                              capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


@pytest.fixture(scope="module", params=["base", "overlays/example"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return kustomize(KUBERNETES / request.param)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def test_every_object_is_valid_against_the_kubernetes_schemas(
        objects: list[dict[str, Any]]) -> None:
    import kubernetes_validate

    checked = 0
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in OPERATOR_KINDS:
            continue
        # Raises ValidationError (strict: unknown fields too) or SchemaNotFoundError.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 17


def test_deployments_probe_limit_and_lock_down_every_container(
        objects: list[dict[str, Any]]) -> None:
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == {"mash-identity", "mash-referral", "mash-notify",
                                "mash-relay", "mash-gateway"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(deployment):
            where = f"{name}/{container['name']}"
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, where
            assert container["resources"]["limits"].keys() >= {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
        main = pod["containers"][0]
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        expected_ready = "/healthz" if name == "mash-gateway" else "/readyz"
        assert main["readinessProbe"]["httpGet"]["path"] == expected_ready, name


def test_hub_processes_read_secrets_by_reference_and_none_is_inlined(
        objects: list[dict[str, Any]]) -> None:
    assert not of_kind(objects, "Secret"), "a Secret is in the manifests"
    for name, deployment in of_kind(objects, "Deployment").items():
        if name == "mash-gateway":
            continue
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["MASH_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "mash-secrets"
        assert "secretKeyRef" in env["MASH_DB_PASSWORD"]["valueFrom"]
        assert "secretKeyRef" in env["MASH_BROKER_PASSWORD"]["valueFrom"]
        # URLs carry the secrets only as $(references), expanded in the pod.
        for key in ("MASH_REFERRAL_DATABASE_URL", "MASH_BROKER_URL"):
            assert "$(MASH_" in env[key]["value"], key
    config = of_kind(objects, "ConfigMap")["mash-config"]["data"]
    assert not any("PASSWORD" in key or "SECRET" in key for key in config)


def test_referral_has_two_replicas_a_disruption_budget_and_cpu_autoscaling(
        objects: list[dict[str, Any]]) -> None:
    assert of_kind(objects, "Deployment")["mash-referral"]["spec"]["replicas"] == 2
    budget = of_kind(objects, "PodDisruptionBudget")["mash-referral"]
    assert budget["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "mash-referral"}
    autoscaler = of_kind(objects, "HorizontalPodAutoscaler")["mash-referral"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "mash-referral"
    assert autoscaler["spec"]["minReplicas"] >= 2
    [metric] = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_migrations_run_once_as_a_job(objects: list[dict[str, Any]]) -> None:
    job = of_kind(objects, "Job")["mash-migrate"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def labels_of(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions with In) picks ``labels``."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def allowed_sources(policies: dict[str, dict[str, Any]], pod: dict[str, str]) -> list[Any]:
    """Every `from` of the policies selecting ``pod``; [None] means any source."""
    sources: list[Any] = []
    for policy in policies.values():
        if not selects(policy["spec"]["podSelector"], pod):
            continue
        for rule in policy["spec"].get("ingress", []):
            sources.extend(rule.get("from", [None]))
    return sources


def test_only_the_gateway_reaches_the_services(objects: list[dict[str, Any]]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    deployments = of_kind(objects, "Deployment")
    gateway = labels_of(deployments["mash-gateway"])
    for name in ("mash-identity", "mash-referral", "mash-notify", "mash-relay"):
        pod = labels_of(deployments[name])
        # Some policy selects the pod for ingress, so anything not allowed is denied.
        assert any(selects(p["spec"]["podSelector"], pod) and "Ingress" in p["spec"]["policyTypes"]
                   for p in policies.values()), name
        sources = allowed_sources(policies, pod)
        assert None not in sources, f"{name} takes connections from anywhere"
        for source in sources:
            assert set(source) == {"podSelector"}, source
            assert selects(source["podSelector"], gateway)
            assert not selects(source["podSelector"], labels_of(deployments["mash-referral"]))
    assert allowed_sources(policies, labels_of(deployments["mash-relay"])) == []
    assert None in allowed_sources(policies, gateway)


def test_the_example_overlay_claims_postgresql_and_rabbitmq_from_their_operators() -> None:
    objects = kustomize(KUBERNETES / "overlays" / "example")
    kinds = {(o["apiVersion"], o["kind"]) for o in objects}
    assert kinds >= OPERATOR_KINDS - {("postgresql.cnpg.io/v1", "ScheduledBackup")}
    names = {o["spec"]["name"] for o in objects if o["kind"] == "Database"}
    cluster = next(o for o in objects if o["kind"] == "Cluster")
    assert names | {cluster["spec"]["bootstrap"]["initdb"]["database"]} == {
        f"mash_{s}" for s in HUB_SERVICES}
    assert {o["metadata"]["namespace"] for o in objects} == {"mash-example"}
    image = of_kind(objects, "Deployment")["mash-referral"]["spec"]["template"]["spec"][
        "containers"][0]["image"]
    assert image == "registry.example.org/mash:0.1.0"


def compose_config() -> dict[str, Any]:
    podman_compose = Path(sys.executable).with_name("podman-compose")
    if shutil.which("podman") is None:
        unavailable("podman", "not installed (podman-compose needs it; .ci/services installs it)")
    env = {**os.environ, "MASH_SECRET_KEY": "compose-config-check",
           "MASH_DB_PASSWORD": "compose-config-check", "MASH_BROKER_PASSWORD": "check"}
    result = subprocess.run([str(podman_compose), "-f", str(COMPOSE), "config"], env=env,
                            capture_output=True, text=True, check=True)
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_file_is_valid_and_runs_the_whole_deployment() -> None:
    services = compose_config()["services"]
    assert set(services) == {"postgres", "rabbitmq", "migrate", "identity", "referral",
                             "notify", "relay", "gateway"}
    assert services["referral"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in (*HUB_SERVICES, "relay"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["read_only"] is True
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert [p for s in services.values() for p in s.get("ports", [])] == ["8080:8080"]
    environment = services["referral"]["environment"]
    assert environment["MASH_SECRET_KEY"] == "compose-config-check"
    assert environment["MASH_REFERRAL_DATABASE_URL"].endswith("@postgres:5432/mash_referral")


def test_compose_refuses_to_start_without_its_secrets() -> None:
    compose_config()  # podman present, or skipped/failed there
    podman_compose = Path(sys.executable).with_name("podman-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
    result = subprocess.run([str(podman_compose), "-f", str(COMPOSE), "config"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "MASH_SECRET_KEY" in result.stderr
