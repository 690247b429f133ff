"""The subscribers' schema: the AsyncAPI 3 document of the Kafka topics, under /v1 but without a key.

It is public on purpose: it describes the shape of our events, not any workspace's data, and an
analytics team (or a schema registry, or a code generator) fetches it without a workspace key.
docs/asyncapi.json is the same document, checked in.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter

from plera.asyncapi import asyncapi_document

router = APIRouter(tags=["subscribers"])


@cache
def _document() -> dict[str, Any]:
    return asyncapi_document()  # generated from the event classes, which do not change while running


@router.get(
    "/asyncapi.json",
    summary="The AsyncAPI 3 document of the plera.* Kafka topics (no key needed)",
    response_description="AsyncAPI 3.0 document: channels, operations and one message schema per event type",
)
def get_asyncapi() -> dict[str, Any]:
    return _document()
