"""deploy/kubernetes and docker-compose.yml, checked by reading: no cluster or Docker here.

Every kustomization renders (``tests/kustomize.py``) and each resource validates against
the Kubernetes 1.30 schema (``kubernetes-validate``, offline, strict) or, for KEDA's kinds,
against ``tests/schemas/keda.sh-v1alpha1.json``. Then what a schema cannot see: every
command a container or probe runs parses as an ``eventrouter`` command, every
``EVENTROUTER_*`` name is a setting, HTTP probes hit routes the API serves on the port it
listens on, grace periods cover the drain times, and the autoscalers and PDBs point at
what exists.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import click
import jsonschema
import kubernetes_validate
import pytest
import yaml

from eventrouter.router.cli import cli
from eventrouter.router.settings import Settings
from tests.kustomize import Resource, build, pod_containers, pod_spec

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"
KEDA_SCHEMAS = json.loads((REPO / "tests" / "schemas" / "keda.sh-v1alpha1.json").read_text())
SETTINGS = {f"EVENTROUTER_{name.upper()}" for name in Settings.model_fields}
EXTRA_SECRET_KEYS = {"REDIS_PASSWORD"}  # read by KEDA's TriggerAuthentication, not by us

BUILDS = {
    "base": KUBE / "base",
    "overlays/example": KUBE / "overlays" / "example",
}


def with_component(name: str) -> list[Resource]:
    """The base plus one component, as an overlay naming only that would render."""
    from tests.kustomize import _apply_component

    return _apply_component(build(KUBE / "base"), KUBE / "components" / name)


@pytest.fixture(
    scope="module",
    params=[*BUILDS, "base+keda-autoscaling", "base+hpa-autoscaling"],
)
def rendered(request: pytest.FixtureRequest) -> list[Resource]:
    name: str = request.param
    if name.startswith("base+"):
        return with_component(name.removeprefix("base+"))
    return build(BUILDS[name])


def by_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def check_cli_command(argv: list[str]) -> None:
    """``argv`` parses as an eventrouter command line (options included), not run."""
    assert argv[0] == "eventrouter", argv
    command: click.Command = cli
    args = argv[1:]
    ctx = cli.make_context("eventrouter", list(args), resilient_parsing=False)
    while isinstance(command, click.Group):
        name, sub, args = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None, f"{name}: not an eventrouter command"  # click raises first
        command = sub
        ctx = command.make_context(name or "", list(args), parent=ctx)


def commands_in(container: dict[str, Any]) -> list[list[str]]:
    """The command lines a container runs: its command, exec probes, and the
    ``eventrouter …`` parts of a ``sh -c`` script."""
    lines: list[list[str]] = []
    for argv in [container.get("command")] + [
        container.get(probe, {}).get("exec", {}).get("command")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
    ]:
        if not argv:
            continue
        if argv[:2] == ["sh", "-c"]:
            for part in re.split(r";|&&|\|\||\bdo\b|\bdone\b|\buntil\b|\bwhile\b", argv[2]):
                words = shlex.split(part)
                if words and words[0] == "eventrouter":
                    lines.append(words)
        else:
            lines.append(list(argv))
    return lines


# -- schemas ---------------------------------------------------------------------------
def test_every_resource_validates_against_its_schema(rendered: list[Resource]) -> None:
    assert rendered
    for resource in rendered:
        if resource["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(resource, KEDA_SCHEMAS[resource["kind"]])
        else:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_fails_validation() -> None:
    """The validation above can fail: strict schemas refuse unknown fields."""
    deployment = by_kind(build(KUBE / "base"), "Deployment")["eventrouter-router"]
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    scaled = by_kind(with_component("keda-autoscaling"), "ScaledObject")["eventrouter-worker"]
    scaled["spec"]["maxReplicas"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, KEDA_SCHEMAS["ScaledObject"])


# -- what the schemas cannot see ---------------------------------------------------------
def test_every_command_exists_in_the_cli(rendered: list[Resource]) -> None:
    seen = 0
    for resource in rendered:
        for container in pod_containers(resource):
            for argv in commands_in(container):
                check_cli_command(argv)
                seen += 1
    assert seen >= 4


def test_a_command_the_cli_lacks_is_caught() -> None:
    with pytest.raises(click.UsageError):
        check_cli_command(["eventrouter", "health", "--check", "heartbeats"])
    with pytest.raises(click.UsageError):
        check_cli_command(["eventrouter", "routr"])


def test_env_names_are_settings_and_come_from_the_configmap_and_secret(
    rendered: list[Resource],
) -> None:
    config_maps, secrets = by_kind(rendered, "ConfigMap"), by_kind(rendered, "Secret")
    for config in config_maps.values():
        assert set(config["data"]) <= SETTINGS, set(config["data"]) - SETTINGS
    for secret in secrets.values():
        assert set(secret["stringData"]) <= SETTINGS | EXTRA_SECRET_KEYS
    for resource in rendered:
        for container in pod_containers(resource):
            for var in container.get("env", []):
                assert var["name"] in SETTINGS, var["name"]
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                assert ref["name"] == "eventrouter"
                if "configMapRef" in source:
                    assert ref["name"] in config_maps
    for name in ("EVENTROUTER_DATABASE_URL", "EVENTROUTER_REDIS_URL", "EVENTROUTER_SECRET_KEY"):
        assert all(name not in c["data"] for c in config_maps.values()), f"{name} is a secret"


def test_grace_periods_cover_each_process_drain(rendered: list[Resource]) -> None:
    config = by_kind(rendered, "ConfigMap")["eventrouter"]["data"]
    settings = Settings(
        delivery_time_box_seconds=float(config["EVENTROUTER_DELIVERY_TIME_BOX_SECONDS"]),
        request_timeout_seconds=float(config["EVENTROUTER_REQUEST_TIMEOUT_SECONDS"]),
    )
    deployments = by_kind(rendered, "Deployment")
    worker = pod_spec(deployments["eventrouter-worker"])
    assert worker is not None
    drain = settings.delivery_time_box_seconds + settings.request_timeout_seconds
    assert worker["terminationGracePeriodSeconds"] >= drain + 10

    api = pod_spec(deployments["eventrouter-api"])
    assert api is not None
    container = api["containers"][0]
    command = container["command"]
    drain_seconds = int(command[command.index("--drain-seconds") + 1])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert api["terminationGracePeriodSeconds"] >= drain_seconds + pre_stop

    router = pod_spec(deployments["eventrouter-router"])
    assert router is not None and router["terminationGracePeriodSeconds"] >= 10


def test_api_probes_hit_routes_it_serves_on_its_port(rendered: list[Resource]) -> None:
    from eventrouter.router.api.app import create_app

    paths = set(create_app(Settings()).openapi()["paths"])
    api = by_kind(rendered, "Deployment")["eventrouter-api"]
    container = pod_containers(api)[-1]
    command = container["command"]
    port = int(command[command.index("--port") + 1])
    assert command[command.index("--host") + 1] == "0.0.0.0"
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] in paths
        assert named.get(http["port"], http["port"]) == port
    service = by_kind(rendered, "Service")["eventrouter-api"]
    assert service["spec"]["ports"][0]["targetPort"] in named


def test_routers_are_redundant_and_budgets_select_real_pods(rendered: list[Resource]) -> None:
    deployments = by_kind(rendered, "Deployment")
    assert deployments["eventrouter-router"]["spec"]["replicas"] >= 2
    budgets = by_kind(rendered, "PodDisruptionBudget")
    assert set(budgets) == {"eventrouter-router", "eventrouter-worker", "eventrouter-api"}
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        wanted = budget["spec"]["selector"]["matchLabels"]
        assert wanted.items() <= labels.items()
        assert wanted == deployments[name]["spec"]["selector"]["matchLabels"]
    for deployment in deployments.values():
        for container in pod_containers(deployment):
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_autoscalers_scale_the_workers_on_the_delivery_queue() -> None:
    keda = with_component("keda-autoscaling")
    scaled = by_kind(keda, "ScaledObject")["eventrouter-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind(keda, "Deployment")
    (trigger,) = scaled["spec"]["triggers"]
    config = by_kind(keda, "ConfigMap")["eventrouter"]["data"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == config["EVENTROUTER_QUEUE"]
    assert set(trigger["metadata"]) <= {
        "address",
        "host",
        "port",
        "databaseIndex",
        "listName",
        "listLength",
        "activationListLength",
        "enableTLS",
    }
    auth = by_kind(keda, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    assert {ref["key"] for ref in auth["spec"]["secretTargetRef"]} <= EXTRA_SECRET_KEYS

    hpa = by_kind(with_component("hpa-autoscaling"), "HorizontalPodAutoscaler")
    target = hpa["eventrouter-worker"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "eventrouter-worker")


def test_the_example_overlay_sets_image_namespace_and_patches() -> None:
    resources = build(BUILDS["overlays/example"])
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == "eventrouter"
        for container in pod_containers(resource):
            assert container["image"] == "registry.example.com/eventrouter:0.1.0"
    worker = pod_containers(by_kind(resources, "Deployment")["eventrouter-worker"])[-1]
    assert {"name": "EVENTROUTER_WORKER_CONCURRENCY", "value": "4"} in worker["env"]
    assert worker["resources"]["limits"]["memory"] == "768Mi"  # merged, not replaced


# -- docker compose ------------------------------------------------------------------------
def test_docker_compose_runs_real_commands_with_real_settings() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    ours = [s for s in services.values() if s.get("image", "").startswith("eventrouter")]
    assert len(ours) >= 3
    for service in ours:
        check_cli_command(service["command"])
        assert set(service["environment"]) <= SETTINGS
        healthcheck = service.get("healthcheck", {}).get("test")
        if healthcheck and healthcheck[1] == "eventrouter":
            check_cli_command(healthcheck[1:])
        for dependency in service.get("depends_on", {}):
            assert dependency in services
