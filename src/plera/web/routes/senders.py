"""Senders: the workspace's sender accounts with their status, last error and limits; add one (email over
SMTP, LinkedIn through a provider), pause, resume (which checks an unverified one again) and remove.

The same commands as api/routes/sender_accounts.py; a refusal (a sender still needed) is shown in words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from plera.aggregates.errors import DomainError
from plera.commands.sender_accounts import (
    AddSenderAccount,
    ChangeSenderAccount,
    add_sender_account,
    change_sender_account,
    get_sender_account,
    remove_sender_account,
    set_sender_status,
)
from plera.projections.catalog import list_items
from plera.runtime import Services
from plera.web.errors import field_errors, message_for
from plera.web.pages import ServicesPage, Viewer, ViewerDep, render
from plera.web.routes.runs import parse_id

router = APIRouter(include_in_schema=False)
LABELS = {
    "name": "Name",
    "address": "Address",
    "daily_limit": "Daily limit",
    "weekly_invite_limit": "Weekly invite limit",
    "host": "SMTP host",
    "port": "SMTP port",
    "username": "SMTP login",
    "password": "SMTP password",
    "base_url": "Provider base URL",
    "api_key": "API key",
    "account_id": "Account ID",
}
SAID = {
    "added": "Sender added and checked.",
    "paused": "Sender paused: nothing more goes out from it until you resume.",
    "resumed": "Sender resumed.",
    "removed": "Sender removed.",
    "changed": "Sender saved and checked.",
    "verified": "Sender checked: it connects.",
}


@router.get("/senders")
def senders_page(request: Request, sv: ServicesPage, viewer: ViewerDep) -> HTMLResponse:
    added = None
    if request.query_params.get("id"):  # just added: shown even before the read model has caught up
        try:
            added = get_sender_account(sv, viewer.workspace_id, parse_id(request.query_params["id"], "sender"))
        except DomainError:
            added = None
    return _page(request, sv, viewer, said=SAID.get(request.query_params.get("said", ""), ""), added=added)


@router.post("/senders")
async def add_sender_page(request: Request, sv: ServicesPage, viewer: ViewerDep) -> Response:
    data = await request.form()  # then the check (SMTP, the provider) runs off the event loop
    return await run_in_threadpool(_add_sender, request, sv, viewer, data)


def _add_sender(request: Request, sv: Services, viewer: Viewer, data: Any) -> Response:
    form = {k: str(v) for k, v in data.items() if k != "csrf_token"}
    channel = form.get("channel", "email")
    body: dict[str, Any] = {
        "channel": channel,
        "name": form.get("name", "").strip(),
        "address": form.get("address", "").strip(),
        "daily_limit": form.get("daily_limit", "").strip(),
    }
    if channel == "linkedin":
        if form.get("weekly_invite_limit", "").strip():
            body["weekly_invite_limit"] = form["weekly_invite_limit"].strip()
        body["provider"] = {
            "base_url": form.get("base_url", "").strip(),
            "api_key": form.get("api_key", ""),
            "account_id": form.get("account_id", "").strip(),
        }
    else:
        body["smtp"] = {
            "host": form.get("host", "").strip(),
            "port": form.get("port", "").strip(),
            "username": form.get("username", "").strip(),
            "password": form.get("password", ""),
            "starttls": form.get("starttls") == "on",
        }
    try:
        sender = add_sender_account(sv, viewer.workspace_id, AddSenderAccount.model_validate(body), viewer.actor)
    except ValidationError as e:
        return _page(request, sv, viewer, form=form, errors=field_errors(e, LABELS, _field_id))
    except DomainError as e:
        return _page(request, sv, viewer, form=form, errors={"": message_for(e)})
    if sender.status == "unverified":
        return _page(
            request,
            sv,
            viewer,
            said=f"Sender {sender.name} added, but its check failed: {sender.last_error}",
            added=sender,
        )
    return RedirectResponse(f"/senders?said=added&id={sender.id}", status_code=303)


def _field_id(loc: tuple[Any, ...]) -> str:
    named = [str(p) for p in loc if isinstance(p, str) and p in LABELS]
    return f"sender-{named[-1].replace('_', '-')}" if named else ""


def sender_action_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sender_id: str, action: str) -> Response:
    sid = parse_id(sender_id, "sender account")
    try:
        if action in ("pause", "resume"):
            sender = set_sender_status(
                sv, viewer.workspace_id, sid, paused=action == "pause", reason="paused by a person", actor=viewer.actor
            )
            if action == "resume" and sender.status == "unverified":
                return _page(request, sv, viewer, error=f"{sender.name}: the check failed again: {sender.last_error}")
        elif action == "remove":
            remove_sender_account(sv, viewer.workspace_id, sid, viewer.actor)
        elif action == "verify":
            sender = _verify(sv, viewer, sid)
            if sender.status == "unverified":
                return _page(request, sv, viewer, error=f"{sender.name}: the check failed: {sender.last_error}")
        else:
            return _page(request, sv, viewer, error="This page does not take that.")
    except DomainError as e:
        return _page(request, sv, viewer, error=message_for(e))
    said = {"remove": "removed", "verify": "verified"}.get(action, action + "d")
    return RedirectResponse(f"/senders?said={said}&id={sid}", status_code=303)


def _page(
    request: Request,
    sv: Services,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    said: str = "",
    added: Any = None,
) -> HTMLResponse:
    with sv.db.pool.connection() as conn:
        senders = list_items(conn, viewer.workspace_id, "sender_account", limit=200)["items"]
    if added is not None:  # the sender just acted on, as stored: the read model may not have caught up
        senders = [s for s in senders if s["id"] != str(added.id)] if added.status == "removed" else senders
        for row in senders:
            if row["id"] == str(added.id):
                row.update(status=added.status, paused_reason=added.paused_reason, last_error=added.last_error)
                row.update(name=added.name, daily_limit=added.daily_limit, address=added.address)
    if added is not None and added.status != "removed" and all(s["id"] != str(added.id) for s in senders):
        senders.append(
            {
                "id": str(added.id),
                "name": added.name,
                "status": added.status,
                "channel": added.channel,
                "address": added.address,
                "daily_limit": added.daily_limit,
                "weekly_invite_limit": added.weekly_invite_limit,
                "last_error": added.last_error,
                "paused_reason": None,
            }
        )
    errors = errors or {}
    return render(
        request,
        "senders/list.html",
        title="Senders",
        crumbs=[("Senders", None)],
        nav="senders",
        status=422 if (errors or error) else 200,
        senders=senders,
        form=form or {"channel": "email", "port": "587", "starttls": "on", "daily_limit": "50"},
        errors=errors,
        error=error,
        said=said,
    )


def _verify(sv: Services, viewer: Viewer, sender_id: Any) -> Any:
    """Checks the sender again: its stored settings saved unchanged (the secret kept), which runs the check."""
    sender = get_sender_account(sv, viewer.workspace_id, sender_id)
    public = sender.as_dict()["connection"]
    key = "smtp" if sender.channel == "email" else "provider"
    fields = ("host", "port", "username", "starttls") if key == "smtp" else ("base_url", "account_id")
    cmd = ChangeSenderAccount.model_validate({key: {k: public.get(k) for k in fields}})
    return change_sender_account(sv, viewer.workspace_id, sender.id, cmd, viewer.actor)


@router.get("/senders/{sender_id}/edit")
def edit_sender_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sender_id: str) -> HTMLResponse:
    sender = get_sender_account(sv, viewer.workspace_id, parse_id(sender_id, "sender account"))
    shown = sender.as_dict()
    form = {k: "" if v is None else str(v) for k, v in {**shown, **shown["connection"]}.items() if k != "connection"}
    form["starttls"] = "on" if shown["connection"].get("starttls") else ""
    return _edit(request, viewer, sender, form)


@router.post("/senders/{sender_id}/edit")
async def change_sender_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sender_id: str) -> Response:
    data = await request.form()
    return await run_in_threadpool(_change_sender, request, sv, viewer, sender_id, data)


def _change_sender(request: Request, sv: Services, viewer: Viewer, sender_id: str, data: Any) -> Response:
    sender = get_sender_account(sv, viewer.workspace_id, parse_id(sender_id, "sender account"))
    form = {k: str(v) for k, v in data.items() if k != "csrf_token"}
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "address": form.get("address", "").strip(),
        "daily_limit": form.get("daily_limit", "").strip(),
    }
    if sender.channel == "linkedin":
        if form.get("weekly_invite_limit", "").strip():
            body["weekly_invite_limit"] = form["weekly_invite_limit"].strip()
        body["provider"] = {  # a blank API key keeps the stored one
            "base_url": form.get("base_url", "").strip(),
            "api_key": form.get("api_key", ""),
            "account_id": form.get("account_id", "").strip(),
        }
    else:
        body["smtp"] = {  # a blank password keeps the stored one
            "host": form.get("host", "").strip(),
            "port": form.get("port", "").strip(),
            "username": form.get("username", "").strip(),
            "password": form.get("password", ""),
            "starttls": form.get("starttls") == "on",
        }
    try:
        changed = change_sender_account(
            sv, viewer.workspace_id, sender.id, ChangeSenderAccount.model_validate(body), viewer.actor
        )
    except ValidationError as e:
        return _edit(request, viewer, sender, form, errors=field_errors(e, LABELS, _field_id))
    except DomainError as e:
        return _edit(request, viewer, sender, form, errors={"": message_for(e)})
    if changed.status == "unverified":
        message = f"Saved, but the check failed: {changed.last_error}"
        return _edit(request, viewer, changed, form, errors={"": message})
    return RedirectResponse(f"/senders?said=changed&id={changed.id}", status_code=303)


def _edit(
    request: Request, viewer: Viewer, sender: Any, form: dict[str, str], errors: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        "senders/edit.html",
        title=f"Edit {sender.name}",
        crumbs=[("Senders", "/senders"), (sender.name, None)],
        nav="senders",
        status=422 if errors else 200,
        sender=sender,
        form=form,
        errors=errors or {},
    )


# last: /senders/{id}/edit above is not an action
router.post("/senders/{sender_id}/{action}")(sender_action_page)
