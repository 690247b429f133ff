"""The `plera` command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.console import Console

from plera.aggregates.errors import DomainError
from plera.clock import SimulatedClock, parse_duration, parse_instant
from plera.runtime import Services
from plera.settings import Settings

app = typer.Typer(help="Plera Sequences: event-sourced outreach sequences.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
clock_app = typer.Typer(help="The simulated clock (PLERA_CLOCK=simulated).", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(clock_app, name="clock")
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


@contextmanager
def services() -> Iterator[Services]:
    """Services for one command; bad settings and domain errors become a message, not a traceback."""
    try:
        sv = Services.open(Settings())
    except (ValueError, ValidationError) as e:
        fail(f"bad settings: {e}")
    try:
        yield sv
    except DomainError as e:
        fail(e.detail, 1)
    finally:
        sv.close()


def _feed(sv: Services) -> Any:
    from plera.consumers.inprocess import InProcessFeed
    from plera.projections.all import ALL

    return InProcessFeed(sv, ALL)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """The main job: API and read-model feed (embedded PostgreSQL when PLERA_DATABASE_URL is unset)."""
    import uvicorn

    from plera.api.app import create_app
    from plera.startup import ensure_default_workspace

    with services() as sv:
        key = ensure_default_workspace(sv, console)
        feed = _feed(sv)
        feed.catch_up()
        _, stop = feed.start()
        console.print(f"Plera is serving on [bold]http://{host}:{port}[/] (API docs at /docs)")
        console.print(f"Workspace 'default' API key: [bold]{key}[/]" if key else "Workspace 'default' exists.")
        try:
            uvicorn.run(create_app(sv), host=host, port=port, log_level="info")
        finally:
            stop.set()


@workspace_app.command("create")
def workspace_create(
    name: str,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the workspace.")] = "UTC",
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, api_key, webhook_secret} as JSON.")] = False,
) -> None:
    """Creates a workspace and prints its API key."""
    from plera.commands.workspaces import CreateWorkspace, create_workspace

    try:
        cmd = CreateWorkspace(name=name, timezone=timezone)
    except ValidationError as e:
        fail("; ".join(err["msg"] for err in e.errors()))
    with services() as sv:
        new = create_workspace(sv, cmd, actor="cli")
    result = {"id": str(new.workspace.id), "api_key": new.api_key, "webhook_secret": new.webhook_secret}
    if as_json:
        print(json.dumps(result))
    else:
        console.print(f"Workspace {name!r} created: {result['id']}\nAPI key: {result['api_key']}")


@app.command()
def demo() -> None:
    """Runs a scripted scenario on the embedded defaults and prints what happened."""
    from plera.demo import run_demo

    with services() as sv:
        feed = _feed(sv)
        run_demo(sv, console, feed.catch_up)


@app.command()
def history(
    lead_id: str,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 instant; default now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replays a lead's outreach history from the event store."""
    from plera.commands.history import lead_history
    from plera.demo import print_history

    try:
        lead = UUID(lead_id)
        at = parse_instant(as_of) if as_of else None
    except ValueError as e:
        fail(f"bad argument: {e}")
    with services() as sv:
        result = lead_history(sv, None, lead, at)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print_history(console, result)


def _simulated(sv: Services) -> SimulatedClock:
    if not isinstance(sv.clock, SimulatedClock):
        fail("the clock is not simulated: set PLERA_CLOCK=simulated")
    assert isinstance(sv.clock, SimulatedClock)
    return sv.clock


@clock_app.command("set")
def clock_set(instant: str) -> None:
    """Sets the simulated clock to an ISO 8601 instant."""
    try:
        at = parse_instant(instant)
    except ValueError as e:
        fail(f"bad instant: {e}")
    with services() as sv:
        console.print(_simulated(sv).set(at).isoformat())


@clock_app.command("advance")
def clock_advance(duration: str) -> None:
    """Moves the simulated clock on by a DURATION like 3d, 4h, 90m or 30s."""
    try:
        by = parse_duration(duration)
    except ValueError as e:
        fail(str(e))
    with services() as sv:
        console.print(_simulated(sv).advance(by).isoformat())


def main() -> None:
    app(prog_name="plera")


if __name__ == "__main__":
    main()
