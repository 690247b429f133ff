"""The published shape of an event: what Kafka carries and what projection handlers read.

Both modes (Kafka and embedded) hand projections the same Envelope, so handlers are one code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, Protocol
from uuid import UUID

import pydantic_core
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import resolve_topic

from plera.aggregates.base import PleraAggregate
from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead, SourceGroup
from plera.aggregates.run import Run
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.strategy_profile import StrategyProfile
from plera.aggregates.suppressions import SuppressionList
from plera.aggregates.unmatched_mail import UnmatchedMail
from plera.aggregates.user import User
from plera.aggregates.workspace import Workspace

AGGREGATE_NAMES: dict[type, str] = {
    Workspace: "workspace",
    Run: "run",
    SourceGroup: "source_group",
    Lead: "lead",
    SenderAccount: "sender_account",
    StrategyProfile: "strategy_profile",
    Sequence: "sequence",
    LeadEnrollment: "enrollment",
    SuppressionList: "suppression_list",  # an addition to the contract: docs/decisions/0008-suppressions.md
    UnmatchedMail: "unmatched_mail",  # an addition to the contract: docs/decisions/0009-unmatched-mail.md
    User: "user",  # people who sign in to the web app (their password hashes are never in events)
}
BASE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "workspace_id", "actor"}
)


@dataclass(frozen=True)
class Envelope:
    event_id: UUID
    aggregate: str  # snake_case aggregate name, as in the topic plera.<aggregate>.v1
    type: str  # the event class name, e.g. StepScheduled
    version: int  # the event class version (class_version)
    aggregate_id: UUID
    aggregate_version: int
    workspace_id: UUID
    occurred_at: datetime
    actor: str
    payload: dict[str, Any]

    @property
    def topic(self) -> str:
        return f"plera.{self.aggregate}.v1"

    @property
    def ce_type(self) -> str:
        return f"plera.{self.aggregate}.{self.type}.v{self.version}"

    def body(self) -> dict[str, Any]:
        """The Kafka message value, as the public contract gives it."""
        return {
            "event_id": str(self.event_id),
            "aggregate_id": str(self.aggregate_id),
            "aggregate_version": self.aggregate_version,
            "workspace_id": str(self.workspace_id),
            "occurred_at": self.occurred_at.isoformat(),
            "actor": self.actor,
            "type": self.type,
            "payload": self.payload,
        }

    @classmethod
    def from_message(cls, ce_type: str, value: bytes) -> Envelope:
        """Reads a Kafka message back: the CloudEvents type names the event, the value holds the rest."""
        _, aggregate, name, version = ce_type.split(".")
        body = json.loads(value)
        return cls(
            event_id=UUID(body["event_id"]),
            aggregate=aggregate,
            type=name,
            version=int(version.removeprefix("v")),
            aggregate_id=UUID(body["aggregate_id"]),
            aggregate_version=int(body["aggregate_version"]),
            workspace_id=UUID(body["workspace_id"]),
            occurred_at=datetime.fromisoformat(body["occurred_at"]),
            actor=body.get("actor", ""),
            payload=body["payload"],
        )


@cache
def published_fields_excluded(event_class: type) -> frozenset[str]:
    """Fields an envelope leaves out: the base ones it carries itself, and any the event keeps private."""
    return BASE_FIELDS | frozenset(getattr(event_class, "unpublished", ()))


def event_id_of(aggregate_id: UUID, version: int) -> UUID:
    """Stable across republishing, so subscribers can dedupe by it (ce_id): uuid5(aggregate_id, "event:N").

    Computed here as uuid5 does, but without its UUID(bytes=, version=) (two thirds of its time,
    and every event read needs one)."""
    digest = hashlib.sha1(aggregate_id.bytes + b"event:%d" % version).digest()
    return UUID(int=int.from_bytes(digest[:16], "big") & _VERSION_CLEARED | _VERSION_5)


_VERSION_CLEARED = ~((0xF000 << 64) | (0xC000 << 48))  # the version and variant bits
_VERSION_5 = (5 << 76) | (0x8000 << 48)  # version 5, RFC 4122 variant


def envelope_of(event: Any) -> Envelope:
    event_class: type = type(event)
    name, type_name, version, excluded = _class_facts(event_class)
    payload = {k: _plain(v) for k, v in vars(event).items() if k not in excluded}
    return Envelope(
        event_id=event_id_of(event.originator_id, event.originator_version),
        aggregate=name,
        type=type_name,
        version=version,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        workspace_id=event.workspace_id,
        occurred_at=event.timestamp,
        actor=event.actor,
        payload=payload,
    )


@cache
def _class_facts(event_class: type) -> tuple[str, str, int, frozenset[str]]:
    """What an envelope takes from the event's class, worked out once per class (the relay's hot path)."""
    name = _aggregate_name(event_class)
    return name, event_class.__name__, getattr(event_class, "class_version", 1), published_fields_excluded(event_class)


@cache
def _aggregate_name(event_class: type) -> str:
    outer = event_class.__qualname__.split(".")[0]  # an aggregate, or a part of one (SequenceMessages)
    return next(n for cls, n in AGGREGATE_NAMES.items() if outer in _part_names(cls))


def _part_names(aggregate: type) -> set[str]:
    return {c.__name__ for c in aggregate.__mro__ if issubclass(c, PleraAggregate) and c is not PleraAggregate}


_AS_IS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """JSON-able values: UUIDs and datetimes as ISO strings, recursively."""
    if type(value) in _AS_IS:  # most values: nothing to convert, and no isinstance chain to walk
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Stored(Protocol):
    """A row of the event store (the library's StoredEvent, or a Notification)."""

    @property
    def originator_id(self) -> Any: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class StoredEnvelopes:
    """Envelopes read straight from stored events: what the relay, the embedded feed and rebuilds read.

    The library's mapper would build the domain event (its UUIDs, datetimes and object) only for
    envelope_of to turn it back into plain values, about half of a rebuild's decoding. Here the
    stored JSON is decoded once (by pydantic's parser, three times as fast as json's with an
    object hook) into those plain values, as envelope_of gives them. An event stored under an older
    class_version (its upcasters expect the library's values), and any store with a cipher, a
    compressor or another transcoder, take the mapper's way.
    """

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        transcoder = mapper.transcoder
        self._direct = isinstance(transcoder, JSONTranscoder) and not mapper.cipher and not mapper.compressor
        self._names = transcoder.names if isinstance(transcoder, JSONTranscoder) else {}

    def __call__(self, stored: Stored) -> Envelope:
        if not self._direct:
            return envelope_of(self._mapper.to_domain_event(stored))  # type: ignore[arg-type]
        event_class = resolve_topic(stored.topic)
        name, type_name, version, excluded = _class_facts(event_class)
        state = self._plain_values(pydantic_core.from_json(stored.state))
        if state.pop("class_version", 1) != version:
            return envelope_of(self._mapper.to_domain_event(stored))  # type: ignore[arg-type]
        aggregate_id, aggregate_version = stored.originator_id, stored.originator_version
        return Envelope(
            event_id=event_id_of(aggregate_id, aggregate_version),
            aggregate=name,
            type=type_name,
            version=version,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            workspace_id=_uuid(state["workspace_id"]),
            occurred_at=datetime.fromisoformat(state["timestamp"]),
            actor=state["actor"],
            payload={k: v for k, v in state.items() if k not in excluded},
        )

    def _plain_values(self, value: Any) -> Any:
        """Decoded JSON with the transcoder's {"_type_", "_data_"} objects as _plain gives their values
        (changed in place)."""
        if type(value) is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._plain_value(value["_type_"], value["_data_"])
            for key, item in value.items():
                if type(item) in _CONTAINERS:
                    value[key] = self._plain_values(item)
        elif type(value) is list:
            for i, item in enumerate(value):
                if type(item) in _CONTAINERS:
                    value[i] = self._plain_values(item)
        return value

    def _plain_value(self, kind: str, data: Any) -> Any:
        if kind == "uuid_hex" and len(data) == 32:  # UUID.hex: lowercase, as str(UUID) has it
            return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
        if kind == "datetime_iso":  # stored as datetime.isoformat(), which _plain gives
            return data
        return _plain(self._names[kind].decode(data))


_CONTAINERS = frozenset({dict, list})
_uuid = lru_cache(maxsize=4096)(UUID)  # workspace ids: few, and on every event
