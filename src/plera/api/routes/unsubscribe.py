"""The unsubscribe link of every email (RFC 8058 one-click): no API key, the signed token is the proof.

Mail providers POST `List-Unsubscribe=One-Click` to the link; that POST unsubscribes. A GET only
shows a page whose button makes the same POST, since link scanners and previews fetch every URL
in a message and must not unsubscribe anyone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from plera.api.deps import ServicesDep
from plera.api.problems import responses
from plera.commands.suppressions import unsubscribe, unsubscriber

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"], responses=responses(404, 422))

# The token is a credential for this one person: keep it out of caches, referrers and indexes.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}
button{{font-size:1rem;padding:.5rem 1.25rem;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""

CONFIRM_PAGE = _PAGE.format(
    title="Unsubscribe?",
    body=(
        "<p>Press the button and we will not write to you again, by email or on LinkedIn.</p>"
        # No action: the form posts to this very URL, wherever the service is published.
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    ),
)
DONE_PAGE = _PAGE.format(
    title="You are unsubscribed",
    body="<p>We will not write to you again, by email or on LinkedIn. You can close this page.</p>",
)

# A token is base64url of 48 bytes (64 characters). The schema says so; a token that is not one
# answers 404 like any other bad token, so the bound is documented rather than enforced here.
Token = Annotated[str, Path(json_schema_extra={"maxLength": 100, "pattern": "^[A-Za-z0-9_-]+$"})]


class UnsubscribedOut(BaseModel):
    unsubscribed: bool


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    summary="The confirmation page of an unsubscribe link (unsubscribes nobody)",
    description="No API key. Shows a page with a button that POSTs to the same URL. A bad token is 404.",
)
def get_unsubscribe(sv: ServicesDep, token: Token) -> HTMLResponse:
    unsubscriber(sv, token)
    return HTMLResponse(CONFIRM_PAGE, headers=_HEADERS)


@router.post(
    "/{token}",
    response_model=UnsubscribedOut,
    summary="Unsubscribe (RFC 8058 one-click)",
    description=(
        "No API key; any body is accepted (mail providers send `List-Unsubscribe=One-Click` as a form)."
        " Suppresses the person's email address and LinkedIn URL and stops their enrollments in every"
        " sequence. Repeating it changes nothing and answers 200 again. Answers HTML to a browser"
        " (`Accept: text/html`), JSON otherwise. A bad token is 404 and records nothing."
    ),
    responses={200: {"content": {"text/html": {}}}},
)
def post_unsubscribe(sv: ServicesDep, token: Token, request: Request) -> Response:
    unsubscribe(sv, token)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(DONE_PAGE, headers=_HEADERS)
    body: dict[str, Any] = {"unsubscribed": True}
    return JSONResponse(body, headers=_HEADERS)
