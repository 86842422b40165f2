"""Configuration as code: an org's configuration written as a routing file (secrets as
references, never values), and the JSON Schema of routing files for editors. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from eventrouter.router.control.routing_file import INTERNAL_KEYS, DestinationSpec, Routing
from eventrouter.router.control.routing_source import Path
from eventrouter.router.destinations import KINDS, secret_paths
from eventrouter.router.models.rules import Rules


# -- the file ----------------------------------------------------------------------------
def document(current: Routing) -> dict[str, Any]:
    """``current`` as a routing file's data: secrets replaced by their references (the one
    they came from, else ``${env:DESTINATION_FIELD}``), never their values."""
    channels = {
        c.name: {
            "pattern": c.pattern,
            **({"env": c.env} if c.env else {}),
            **({"description": c.description} if c.description else {}),
        }
        for c in current.channels.values()
    }
    destinations = {}
    for d in current.destinations.values():
        config = {k: v for k, v in d.config.items() if k not in INTERNAL_KEYS}
        for secret in secret_paths(d.type, config):
            config = _by_reference(config, secret, d)
        destinations[d.name] = {
            "type": d.type,
            **config,
            **({"retry_schedule": d.retry_schedule} if d.retry_schedule else {}),
            **({"enabled": False} if d.enabled is False else {}),
        }
    subscriptions = {
        s.name: {
            "channels": list(s.channels),
            **({"destinations": list(s.destinations)} if s.destinations or not s.users else {}),
            **({"env": s.env} if s.env else {}),
            **({"enabled": False} if s.enabled is False else {}),
            **({"rules": dict(s.rules)} if s.rules else {}),
            **({"users": s.users} if s.users is not None else {}),
            **({"mandatory": True} if s.mandatory else {}),
        }
        for s in current.subscriptions.values()
    }
    data: dict[str, Any] = {
        "channels": channels,
        "destinations": destinations,
        "subscriptions": subscriptions,
    }
    people = current.people
    if people is not None and (people.email_via or people.slack_via):
        media = {"email_via": people.email_via, "slack_via": people.slack_via}
        data["people"] = {k: v for k, v in media.items() if v is not None}
    return data


def _by_reference(node: Any, secret: Path, d: DestinationSpec, prefix: str = "") -> Any:
    """``node`` with the secret at ``secret`` (``*`` for every key, as in webhook headers)
    replaced by its reference."""
    if not isinstance(node, dict):
        return node
    head, rest = secret[0], secret[1:]
    copy = dict(node)
    for key in list(node) if head == "*" else [head] if head in node else []:
        dotted = prefix + key
        copy[key] = (
            _by_reference(copy[key], rest, d, dotted + ".") if rest else _reference(d, dotted)
        )
    return copy


def _reference(d: DestinationSpec, dotted: str) -> Any:
    stored = d.secret_refs.get(dotted)
    if stored is not None:
        return stored
    variable = re.sub(r"[^A-Za-z0-9]+", "_", f"{d.name}_{dotted}").strip("_").upper()
    return f"${{env:{variable}}}"


def dump(data: Mapping[str, Any]) -> str:
    """A routing file's text, in the order people read it."""
    header = (
        "# eventrouter routing (eventrouter export). Secrets are references: set the\n"
        "# environment variables named ${env:…} (or the files) before 'eventrouter apply'.\n"
    )
    return header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=100)


# -- the file's JSON Schema -------------------------------------------------------------
SECRET_FILE = {
    "type": "object",
    "properties": {"secret_file": {"type": "string", "description": "read the secret from"}},
    "required": ["secret_file"],
    "additionalProperties": False,
}


def json_schema() -> dict[str, Any]:
    """A JSON Schema (2020-12) of routing files, for editors to complete and check them."""
    defs: dict[str, Any] = {"secret_file": SECRET_FILE}
    kinds = []
    for kind in KINDS.values():
        raw = json.dumps(kind.config_model.model_json_schema())
        model = json.loads(raw.replace('"#/$defs/', f'"#/$defs/{kind.name}.'))
        defs.update({f"{kind.name}.{k}": v for k, v in model.pop("$defs", {}).items()})
        for secret in secret_paths(kind.name):
            _allow_secret_file(model, secret, defs)
        properties = {
            **model.get("properties", {}),
            "type": {"const": kind.name},
            "retry_schedule": {"type": "string", "description": "delays, e.g. 10s,1m,10m"},
            "enabled": {"type": "boolean"},
        }
        kinds.append(
            {
                "type": "object",
                "properties": properties,
                "required": ["type", *model.get("required", [])],
                "additionalProperties": False,
            }
        )
    names = {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$"}}
    string_list = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "eventrouter routing file",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "channels": {
                **names,
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "pattern": {"type": "string", "description": "RE2, whole name"},
                        "env": {"type": "string"},
                        "description": {"type": "string"},
                    },
                    "required": ["pattern"],
                    "additionalProperties": False,
                },
            },
            "destinations": {**names, "additionalProperties": {"oneOf": kinds}},
            "subscriptions": {
                **names,
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "channels": string_list,
                        "destinations": string_list,
                        "env": {"type": "string"},
                        "enabled": {"type": "boolean"},
                        "rules": {"$ref": "#/$defs/rules"},
                        "users": {
                            **string_list,
                            "description": "all, role:ROLE and emails of the org's users",
                        },
                        "mandatory": {"type": "boolean"},
                    },
                    "required": ["channels"],
                    "additionalProperties": False,
                },
            },
            "people": {
                "type": "object",
                "description": "the destinations that carry people's notifications",
                "properties": {
                    "email_via": {"type": ["string", "null"]},
                    "slack_via": {"type": ["string", "null"]},
                },
                "additionalProperties": False,
            },
        },
        "$defs": {**defs, **_rules_schema()},
    }


def _rules_schema() -> dict[str, Any]:
    """The ``Rules`` model's schema (its enums' definitions beside it, renamed)."""
    raw = json.dumps(Rules.model_json_schema())
    model = json.loads(raw.replace('"#/$defs/', '"#/$defs/rules.'))
    nested = {f"rules.{k}": v for k, v in model.pop("$defs", {}).items()}
    return {"rules": model, **nested}


def _allow_secret_file(node: dict[str, Any], path: Path, defs: dict[str, Any]) -> None:
    """Let the property at ``path`` be ``{secret_file: …}`` as well as its value."""
    if "$ref" in node:
        node = defs[node["$ref"].removeprefix("#/$defs/")]
    for member in node.get("anyOf", []):
        if "$ref" in member:
            _allow_secret_file(member, path, defs)
    properties = node.get("properties", {})
    if path[0] not in properties:
        return
    if len(path) == 1:
        properties[path[0]] = {"anyOf": [properties[path[0]], {"$ref": "#/$defs/secret_file"}]}
    else:
        _allow_secret_file(properties[path[0]], path[1:], defs)
