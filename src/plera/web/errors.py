"""Errors on pages, in one place (as api/problems.py is for the API).

The app's exception handlers are the API's; for a page request (not under /v1) the same exceptions
answer an HTML page instead: 404 for another workspace's resource, a message for a refused command,
/sign-in when signed out, 403 for a missing CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from plera.aggregates.errors import DomainError
from plera.web.pages import CsrfRejected, SignInRequired, render

Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PATHS = ("/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")


def message_for(exc: Exception) -> str:
    """What a person reads when a command is refused: the domain's own words, or the first bad field."""
    if isinstance(exc, DomainError):
        detail = exc.detail
    elif isinstance(exc, ValidationError | RequestValidationError):
        detail = _field_message(exc.errors()[0]) if exc.errors() else "the form is not valid"
    else:
        detail = "something went wrong"
    return detail[:1].upper() + detail[1:]


def _field_message(error: Any) -> str:
    """A pydantic error in a person's words: "Enter a name", not "String should have at least 1 character"."""
    loc = [p for p in error.get("loc", ()) if isinstance(p, str) and p not in ("body", "query", "form")]
    field = loc[-1].replace("_", " ") if loc else "value"
    limits = error.get("ctx") or {}
    kind = error.get("type")
    if kind == "missing" or (kind == "string_too_short" and limits.get("min_length") == 1):
        return f"enter a {field}"
    if kind == "string_too_short":
        return f"the {field} needs at least {limits.get('min_length')} characters"
    if kind == "string_too_long":
        return f"the {field} has at most {limits.get('max_length')} characters"
    return f"{field}: {error.get('msg', 'not valid')}"


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(API_PATHS)


def install(app: FastAPI) -> None:
    """Wraps the API's handlers: pages get HTML, the API keeps its problem details."""
    for kind in (DomainError, HTTPException, RequestValidationError, ValidationError):
        api_handler = app.exception_handlers.get(kind)
        if api_handler is not None:
            app.exception_handlers[kind] = _for_pages(api_handler)  # type: ignore[arg-type]
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CsrfRejected, _csrf)


def _for_pages(api_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await api_handler(request, exc)
        return page_error(request, exc)

    return handle


def page_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None) or 422
    if status == 404:
        return render(request, "error.html", title="Page not found", status=404, message=_NOT_FOUND)
    if status == 405:
        return render(request, "error.html", title="Not allowed", status=405, message="This page does not take that.")
    if isinstance(exc, HTTPException):
        return render(request, "error.html", title="Something went wrong", status=status, message=str(exc.detail))
    return render(request, "error.html", title="That did not work", status=int(status), message=message_for(exc))


_NOT_FOUND = "There is no such page here, or it belongs to another workspace. Check the address, or go back to Runs."


async def _sign_in(request: Request, exc: Exception) -> Response:
    if request.method == "GET" and request.url.path != "/":
        return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/sign-in"})
    return RedirectResponse("/sign-in", status_code=303)


async def _csrf(request: Request, exc: Exception) -> Response:
    message = "This form has expired or did not come from this site. Go back, reload the page and try again."
    return render(request, "error.html", title="Form expired", status=403, message=message)


def field_errors(
    exc: ValidationError, labels: dict[str, str], field_id: Callable[[tuple[Any, ...]], str]
) -> dict[str, str]:
    """A command's validation errors as {form control id: message in words}, first error per control.

    `labels` names the command's fields as the form does; `field_id` maps an error's location to the control.
    """
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = tuple(error.get("loc") or ())
        control = field_id(loc)
        if control in found:
            continue
        named = [str(p) for p in loc if isinstance(p, str) and p in labels]
        label = labels[named[-1]] if named else "This field"
        found[control] = _in_words(label, error)
    return found


def _in_words(label: str, error: Any) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    lead = label[:1].upper() + label[1:]
    # "Enter name", but "Enter SMTP host": an acronym keeps its capitals.
    inner = label if label[1:2].isupper() else label[:1].lower() + label[1:]
    if kind in ("missing", "string_too_short", "string_pattern_mismatch"):
        return f"Enter {inner}"
    if kind == "too_short":
        return f"{lead}: add at least {ctx.get('min_length', 1)}"
    if kind == "string_too_long":
        return f"{lead} must be {ctx.get('max_length')} characters or fewer"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{lead} must be a whole number, such as 3"
    if kind == "greater_than_equal":
        return f"{lead} must be {ctx.get('ge')} or more"
    if kind == "less_than_equal":
        return f"{lead} must be {ctx.get('le')} or less"
    if kind in ("uuid_parsing", "uuid_type", "literal_error"):
        return f"Choose {inner} from the list"
    return f"{lead}: {error.get('msg', 'not valid')}"
