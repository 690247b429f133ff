"""Webhook signatures: hex HMAC-SHA256 of "{timestamp}.{body}" under the workspace webhook secret.

The same scheme signs every webhook Plera takes (inbound email, LinkedIn provider events). The
timestamp is unix seconds in `X-Plera-Timestamp`, and must be within ±5 minutes of the real wall
clock, also when Plera's clock is simulated, because it guards against replays.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Plera-Timestamp"
SIGNATURE_HEADER = "X-Plera-Signature"
TOLERANCE_SECONDS = 300
# Unix seconds have 10 digits until the year 2286. A longer stamp is malformed, and refusing it by its
# length keeps int() and the float comparison away from numbers they cannot take (309 digits overflow a float).
_MAX_TIMESTAMP_DIGITS = 12


def sign(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers a sender of a webhook adds."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now_unix: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True when the signature is the secret's for this timestamp and body, and the timestamp is fresh.
    A malformed timestamp (not 1 to 12 ASCII digits) is simply False.

    `now_unix` is the real wall clock (time.time()), not plera.clock.
    """
    if not timestamp_header or not signature_header:
        return False
    stamp = timestamp_header.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    timestamp = int(stamp)
    if abs(now_unix - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    # compare_digest on bytes, so a non-ASCII header is simply unequal rather than a TypeError
    return hmac.compare_digest(expected, signature_header.strip().lower().encode("utf-8", "replace"))
