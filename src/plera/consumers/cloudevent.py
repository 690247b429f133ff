"""CloudEvents 1.0 binary mode for Kafka, made with the `cloudevents` SDK."""

from __future__ import annotations

from cloudevents.core.bindings.kafka import KafkaMessage, to_binary_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from plera.envelope import Envelope

_JSON = JSONFormat()  # stateless: one for every message rather than one per message


def to_kafka_message(envelope: Envelope) -> KafkaMessage:
    """Headers ce_* and content-type; the key is the aggregate id; the value the contract's body."""
    aggregate_id = str(envelope.aggregate_id)
    key = aggregate_id.encode()
    event = CloudEvent(
        attributes={
            "id": str(envelope.event_id),
            "source": f"/plera/workspaces/{envelope.workspace_id}",
            "type": envelope.ce_type,
            "subject": aggregate_id,
            "time": envelope.occurred_at,
            "datacontenttype": "application/json",
        },
        data=envelope.body(),
    )
    return to_binary_event(event, _JSON, key_mapper=lambda _: key)


def headers_list(message: KafkaMessage) -> list[tuple[str, bytes]]:
    return list(message.headers.items())
