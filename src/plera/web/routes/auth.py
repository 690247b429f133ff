"""Sign-in, the one-time set-password link, sign-out; `/` leads to sign-in or to the Runs page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plera.aggregates.errors import DomainError
from plera.aggregates.user import normal_email
from plera.commands.users import check_credentials, password_link_user, use_password_link
from plera.web import sessions
from plera.web.errors import message_for
from plera.web.pages import ServicesPage, ViewerDep, check_pre_session_csrf, render
from plera.web.security import PRE_SESSION_COOKIE, is_https, new_token

router = APIRouter(include_in_schema=False)
pre_session = [Depends(check_pre_session_csrf)]

WRONG = "The email or password is not right. Check them and try again."
THROTTLED = "Too many failed attempts. Wait 15 minutes, then try again."


@router.get("/")
def home(request: Request) -> Response:
    target = "/runs" if request.cookies.get(sessions.COOKIE) else "/sign-in"
    return RedirectResponse(target, status_code=303)


def _form_page(request: Request, template: str, *, title: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A signed-out form with its CSRF token, kept in a cookie until a session has one."""
    token = request.cookies.get(PRE_SESSION_COOKIE) or new_token()
    response = render(request, template, title=title, status=status, csrf_token=token, **context)
    response.set_cookie(
        PRE_SESSION_COOKIE, token, httponly=True, samesite="lax", secure=is_https(request), path="/", max_age=86400
    )
    return response


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "/runs") -> HTMLResponse:
    return _form_page(request, "sign_in.html", title="Sign in", next=_safe_next(next), email="")


@router.post("/sign-in", dependencies=pre_session)
def sign_in(
    request: Request,
    sv: ServicesPage,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=500)] = "/runs",
) -> Response:
    address = request.client.host if request.client else "unknown"
    email = normal_email(email)
    if sessions.sign_in_throttled(sv.db.pool, email, address):
        return _form_page(request, "sign_in.html", title="Sign in", status=429, error=THROTTLED, email=email, next=next)
    user = check_credentials(sv, email, password) if email and password else None
    if user is None:
        sessions.record_sign_in_failure(sv.db.pool, email, address)
        return _form_page(request, "sign_in.html", title="Sign in", status=401, error=WRONG, email=email, next=next)
    sessions.clear_sign_in_failures(sv.db.pool, email)
    raw, _ = sessions.open_session(sv.db.pool, user.id, user.workspace_id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(sessions.COOKIE, raw, httponly=True, samesite="lax", secure=is_https(request), path="/")
    response.delete_cookie(PRE_SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))
    return response


@router.post("/sign-out")
def sign_out(request: Request, sv: ServicesPage, viewer: ViewerDep) -> Response:
    raw = request.cookies.get(sessions.COOKIE)
    if raw:
        sessions.end_session(sv.db.pool, raw)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))
    return response


@router.get("/set-password")
def set_password_page(request: Request, sv: ServicesPage, token: str = "") -> HTMLResponse:
    user = password_link_user(sv, token) if token else None
    if user is None:
        return render(request, "error.html", title="Link expired", status=410, message=_SPENT)
    return _form_page(request, "set_password.html", title="Set your password", token=token, user=user)


@router.post("/set-password", dependencies=pre_session)
def set_password(
    request: Request,
    sv: ServicesPage,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    user = password_link_user(sv, token) if token else None
    if user is None:
        return render(request, "error.html", title="Link expired", status=410, message=_SPENT)
    if password != confirm:
        return _form_page(
            request,
            "set_password.html",
            title="Set your password",
            status=422,
            token=token,
            user=user,
            error="The two passwords are not the same.",
        )
    try:
        done = use_password_link(sv, token, password)
    except DomainError as e:
        return _form_page(
            request,
            "set_password.html",
            title="Set your password",
            status=422,
            token=token,
            user=user,
            error=message_for(e),
        )
    if done is None:
        return render(request, "error.html", title="Link expired", status=410, message=_SPENT)
    return _form_page(request, "sign_in.html", title="Sign in", email=done.email, next="/runs", notice=_SET)


_SPENT = "This link has been used or has expired. Ask the workspace's owner for a new one (`plera user add`)."
_SET = "Your password is set. Sign in with it now."


def _safe_next(target: str) -> str:
    """Only a path of this site: never another host (an open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/runs"
