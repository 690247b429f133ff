import json
from pathlib import Path

from plera.asyncapi import asyncapi_document, event_classes, message_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_checked_in_asyncapi_document_matches_the_event_classes():
    checked_in = json.loads((DOCS / "asyncapi.json").read_text())
    assert checked_in == json.loads(json.dumps(asyncapi_document(), sort_keys=True))


def test_every_event_type_has_a_checked_in_json_schema():
    for aggregate, events in event_classes().items():
        for event_class in events:
            schema = message_schema(aggregate, event_class)
            path = DOCS / "events" / f"{schema['$id']}.json"
            assert json.loads(path.read_text()) == json.loads(json.dumps(schema, sort_keys=True)), path


def test_the_enrollment_topic_lists_the_send_protocol_events():
    names = {e.__name__ for e in event_classes()["enrollment"]}
    assert {"LeadEnrolled", "StepScheduled", "StepDispatching", "MessageSent", "ReplyDetected"} <= names


def test_private_fields_are_not_published():
    schema = message_schema("workspace", next(e for e in event_classes()["workspace"] if e.__name__ == "ApiKeyIssued"))
    assert "key_hash" not in schema["properties"]["payload"]["properties"]
