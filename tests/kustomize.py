"""The part of ``kustomize build`` that deploy/kubernetes uses, so CI can render it offline.

Supported: ``resources`` (files and folders), ``components``, ``namespace``, ``images``,
``labels`` (metadata only), and ``patches`` given as strategic-merge files (lists of
objects with a ``name`` are merged by name, as Kubernetes does for containers, env,
volumes and ports). Anything else in a kustomization fails the build here, so a manifest
that would need real kustomize cannot pass CI by being half rendered.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "namespace",
    "images",
    "labels",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class KustomizeError(Exception):
    pass


def build(folder: Path) -> list[Resource]:
    """The resources ``kustomize build folder`` would print, in order."""
    return _build(folder, expect="Kustomization")


def _build(folder: Path, *, expect: str) -> list[Resource]:
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{folder}: fields this renderer does not know: {sorted(unknown)}")
    if spec.get("kind", "Kustomization") != expect:
        raise KustomizeError(f"{folder} is a {spec.get('kind')}, expected a {expect}")
    resources: list[Resource] = []
    if expect == "Component" and set(spec) - {"apiVersion", "kind", "resources", "patches"}:
        raise KustomizeError(f"{folder}: a component here may hold only resources and patches")
    for entry in spec.get("resources", []):
        path = folder / entry
        if path.is_dir():
            resources += _build(path, expect="Kustomization")
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    if expect == "Component":
        return resources  # its patches apply to what it is added to (_apply_component)
    for entry in spec.get("components", []):
        resources = _apply_component(resources, folder / entry)
    _apply(spec, folder, resources)
    return resources


def _apply_component(resources: list[Resource], folder: Path) -> list[Resource]:
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    merged = resources + _build(folder, expect="Component")
    _apply({k: v for k, v in spec.items() if k == "patches"}, folder, merged)
    return merged


def _apply(spec: dict[str, Any], folder: Path, resources: list[Resource]) -> None:
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{folder}: only strategic-merge patch files are supported")
        for doc in yaml.safe_load_all((folder / patch["path"]).read_text()):
            target = _find(resources, doc["kind"], doc["metadata"]["name"])
            target.update(_merge(target, doc))
    for pair in spec.get("labels", []):
        if set(pair) - {"pairs"}:
            raise KustomizeError(f"{folder}: labels support only 'pairs'")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(pair["pairs"])
    for image in spec.get("images", []):
        for container in _containers(resources):
            name = container["image"].split("@")[0].split(":")[0]
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]


def _find(resources: list[Resource], kind: str, name: str) -> Resource:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise KustomizeError(f"patch target {kind}/{name} not found")


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    named = (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in base + patch)
    )
    if named:
        out = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, b in enumerate(out) if b["name"] == item["name"]), None)
            if index is None:
                out.append(copy.deepcopy(item))
            else:
                out[index] = _merge(out[index], item)
        return out
    return copy.deepcopy(patch)


def _containers(resources: list[Resource]) -> list[dict[str, Any]]:
    return [container for resource in resources for container in pod_containers(resource)]


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec: dict[str, Any] = resource["spec"]["template"]["spec"]
        return spec
    return None


def pod_containers(resource: Resource) -> list[dict[str, Any]]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]
