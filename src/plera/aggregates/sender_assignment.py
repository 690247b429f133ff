"""Which sender a lead gets on a channel: spread by capacity, and the same answer every time.

Weighted rendezvous hashing: each (lead, sender) pair draws a number from a hash, scaled by the
sender's daily limit, and the highest wins. A sender with twice the limit wins about twice as
many leads; the answer depends only on the lead and the candidates, so previews, enrollment and
any later re-check agree without shared state; and adding a sender moves leads only to it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Candidate:
    sender_id: UUID
    capacity: int  # the sender's daily limit


def assign(lead_id: UUID, candidates: Sequence[Candidate]) -> UUID | None:
    """The lead's sender among the candidates, or None when there are none."""
    best: tuple[float, UUID] | None = None
    for candidate in candidates:
        if candidate.capacity <= 0:
            continue
        digest = hashlib.blake2b(lead_id.bytes + candidate.sender_id.bytes, digest_size=8).digest()
        draw = (int.from_bytes(digest, "big") + 0.5) / 2**64  # uniform in (0, 1)
        score = -candidate.capacity / math.log(draw)
        if best is None or (score, candidate.sender_id) > best:
            best = (score, candidate.sender_id)
    return None if best is None else best[1]
