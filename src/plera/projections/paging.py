"""Keyset cursors for the read models' lists: an opaque token naming the last row served.

The token is base64 JSON of the sort key of the page's last row: (an instant, an id), or a
position in a list that has its own order (a source group's leads).
A token that does not decode raises catalog.BadCursor, which the API answers with a 4xx.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from uuid import UUID

from plera.projections.catalog import BadCursor


def encode_cursor(at: datetime, row_id: UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), str(row_id)]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), UUID(row_id)
    except (ValueError, TypeError) as e:
        raise BadCursor("the cursor is not one this API gave out") from e


def encode_position(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([position]).encode()).decode()


def decode_position(cursor: str) -> int:
    try:
        (position,) = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as e:
        raise BadCursor("the cursor is not one this API gave out") from e
    if not isinstance(position, int) or isinstance(position, bool):
        raise BadCursor("the cursor is not one this API gave out")
    return position
