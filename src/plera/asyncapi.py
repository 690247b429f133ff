"""The subscriber's schema: an AsyncAPI 3 document and a JSON Schema per event type.

Generated from the event classes themselves, so it cannot drift from what the relay publishes.
`python -m plera.asyncapi docs/` writes the checked-in copies.
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, create_model

from plera.aggregates.base import PleraAggregate
from plera.envelope import AGGREGATE_NAMES, published_fields_excluded


def event_classes() -> dict[str, list[type]]:
    """Each aggregate's event classes, by published aggregate name, in name order."""
    found: dict[str, list[type]] = {}
    for aggregate, name in AGGREGATE_NAMES.items():
        parts = [c for c in aggregate.__mro__ if issubclass(c, PleraAggregate) and c is not PleraAggregate]
        events = [
            value
            for part in parts
            for attr, value in vars(part).items()
            if isinstance(value, type)
            and issubclass(value, PleraAggregate.Event)
            and attr not in ("Event", "Created")
            and value.__qualname__.startswith(part.__name__ + ".")
        ]
        found[name] = sorted(events, key=lambda e: e.__name__)
    return found


def payload_schema(event_class: type) -> dict[str, Any]:
    hints = typing.get_type_hints(event_class)
    fields: dict[str, Any] = {k: (v, ...) for k, v in hints.items() if k not in published_fields_excluded(event_class)}
    model = create_model(event_class.__name__ + "Payload", **fields)
    return TypeAdapter(model).json_schema(mode="serialization")


def message_schema(aggregate: str, event_class: type) -> dict[str, Any]:
    version = getattr(event_class, "class_version", 1)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"plera.{aggregate}.{event_class.__name__}.v{version}",
        "title": f"{event_class.__name__} (v{version}) on plera.{aggregate}.v1",
        "description": f"{event_class.__name__}, an event of a {aggregate}.",
        "type": "object",
        "required": ["event_id", "aggregate_id", "aggregate_version", "workspace_id", "occurred_at", "payload"],
        "properties": {
            "event_id": {"type": "string", "format": "uuid", "description": "Unique and stable: dedupe by it."},
            "aggregate_id": {"type": "string", "format": "uuid"},
            "aggregate_version": {"type": "integer", "minimum": 1},
            "workspace_id": {"type": "string", "format": "uuid"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"},
            "type": {"type": "string", "const": event_class.__name__},
            "payload": payload_schema(event_class),
        },
    }


_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka binary mode.",
    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Equals the body's event_id; subscribers dedupe by it."},
        "ce_type": {"type": "string", "description": "plera.<aggregate>.<EventName>.v<N>"},
        "ce_source": {"type": "string", "description": "/plera/workspaces/<workspace_id>"},
        "ce_subject": {"type": "string", "description": "The aggregate id (also the message key)."},
        "ce_time": {"type": "string", "format": "date-time"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for aggregate, events in event_classes().items():
        refs = {}
        for event_class in events:
            key = f"{aggregate}.{event_class.__name__}"
            schema = message_schema(aggregate, event_class)
            messages[key] = {
                "name": event_class.__name__,
                "title": schema["title"],
                "contentType": "application/json",
                "headers": _HEADERS,
                "payload": schema,
                "bindings": {"kafka": {"key": {"type": "string", "format": "uuid"}}},
            }
            refs[event_class.__name__] = {"$ref": f"#/components/messages/{key}"}
        channels[aggregate] = {
            "address": f"plera.{aggregate}.v1",
            "description": f"Every event of {aggregate} aggregates, keyed by aggregate id (per-aggregate order).",
            "messages": refs,
        }
        operations[f"receive_{aggregate}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{aggregate}"},
            "messages": [{"$ref": f"#/channels/{aggregate}/messages/{name}"} for name in refs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Plera Sequences events",
            "version": "1.0.0",
            "description": (
                "Domain events relayed from the event store. Delivery is at least once: after a relay "
                "crash an event may be published again with the same ce_id, so deduplicate by ce_id."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "asyncapi.json").write_text(json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n")
    events_dir = folder / "events"
    events_dir.mkdir(exist_ok=True)
    for aggregate, events in event_classes().items():
        for event_class in events:
            schema = message_schema(aggregate, event_class)
            (events_dir / f"{schema['$id']}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
