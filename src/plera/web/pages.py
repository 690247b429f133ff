"""What every page shares: the templates, who is signed in (the Viewer), the CSRF check, and rendering."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from plera.aggregates.errors import NotFound
from plera.aggregates.user import User
from plera.commands.users import actor_of
from plera.runtime import Services
from plera.web import sessions
from plera.web.security import PRE_SESSION_COOKIE, UNSAFE, sent_csrf_token, tokens_match

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescaping on: lead and mail text is shown escaped


class SignInRequired(Exception):
    """No live session: the page leads to /sign-in (errors.py)."""


class CsrfRejected(Exception):
    """A state-changing request without the right token: 403 (errors.py)."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as a page sees them."""

    user_id: UUID
    workspace_id: UUID
    name: str
    email: str
    role: str
    actor: str  # recorded on the events they cause
    csrf_token: str


def services_of(request: Request) -> Services:
    sv: Services = request.app.state.services
    return sv


ServicesPage = Annotated[Services, Depends(services_of)]


async def viewer(request: Request) -> Viewer:
    """The person whose live session the cookie names; checks the CSRF token of a state-changing request."""
    sv = services_of(request)
    raw = request.cookies.get(sessions.COOKIE)
    session = sessions.touch_session(sv.db.pool, raw) if raw else None
    if session is None:
        raise SignInRequired()
    try:
        user = sv.events.get(session.user_id, User, session.workspace_id)
    except NotFound:
        raise SignInRequired() from None
    if request.method in UNSAFE and not tokens_match(await sent_csrf_token(request), session.csrf_token):
        raise CsrfRejected()
    found = Viewer(
        user_id=user.id,
        workspace_id=user.workspace_id,
        name=user.name,
        email=user.email,
        role=user.role,
        actor=actor_of(user),
        csrf_token=session.csrf_token,
    )
    request.state.viewer = found
    return found


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def check_pre_session_csrf(request: Request) -> None:
    """The sign-in and set-password forms: their token must match the cookie set with the form."""
    if request.method in UNSAFE and not tokens_match(
        await sent_csrf_token(request), request.cookies.get(PRE_SESSION_COOKIE)
    ):
        raise CsrfRejected()


def render(
    request: Request,
    template: str,
    *,
    title: str,
    crumbs: list[tuple[str, str | None]] | None = None,
    status: int = 200,
    nav: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the layout: `crumbs` are (label, link) pairs after Home; `nav` is the current area."""
    viewer_now: Viewer | None = getattr(request.state, "viewer", None)
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "crumbs": crumbs or [],
            "viewer": viewer_now,
            "csrf_token": context.pop("csrf_token", None) or (viewer_now.csrf_token if viewer_now else ""),
            "nav": nav,
            **context,
        },
        status_code=status,
    )
