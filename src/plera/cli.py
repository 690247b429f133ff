"""The `plera` command."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from uuid import UUID

import psycopg
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from plera.aggregates.errors import DomainError
from plera.clock import SimulatedClock, parse_duration, parse_instant
from plera.runtime import Services
from plera.settings import Settings

app = typer.Typer(help="Plera Sequences: event-sourced outreach sequences.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
clock_app = typer.Typer(
    help="The simulated clock (a database whose `plera up` runs with PLERA_CLOCK=simulated).", no_args_is_help=True
)
app.add_typer(workspace_app, name="workspace")
user_app = typer.Typer(help="People who sign in to the web app.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(clock_app, name="clock")
projections_app = typer.Typer(help="Read models: rebuild, verify and retry.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
console = Console()
errors = Console(stderr=True)
FILE_WIDTH = 160  # columns of the demo's output when it goes to a file: its widest table fits


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, whatever the text holds (it may quote user input) and however narrow the terminal."""
    errors.print(f"[red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)
    raise typer.Exit(code)


def _settings_error(e: ValidationError) -> str:
    return "; ".join(f"PLERA_{'_'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors())


@contextmanager
def services(*, keeps_clock_mode: bool = False) -> Iterator[Services]:
    """Services for one command; bad settings and domain errors become a message, not a traceback.

    `keeps_clock_mode` for the service (`plera up`): its PLERA_CLOCK is kept in the database for the others.
    """
    try:
        settings = Settings()
        if settings.database_url is None and "data_dir" not in settings.model_fields_set:
            # Said, because a shell without PLERA_DATA_DIR may not be on the database the service uses.
            errors.print(f"using data folder {escape(str(settings.data_dir))}", soft_wrap=True, highlight=False)
        sv = Services.open(settings, keeps_clock_mode=keeps_clock_mode)
    except ValidationError as e:
        fail(f"bad settings: {_settings_error(e)}")
    except psycopg.Error as e:
        fail(f"cannot open the database: {e}")
    except ValueError as e:
        fail(f"bad settings: {e}")
    try:
        yield sv
    except DomainError as e:
        fail(e.detail, 1)
    finally:
        sv.close()


def _pipeline(sv: Services) -> Any:
    from plera.consumers.pipeline import open_pipeline
    from plera.projections.all import ALL

    return open_pipeline(sv, ALL)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """The main job: API, worker and read-model feed (embedded PostgreSQL when PLERA_DATABASE_URL is unset)."""
    import uvicorn

    from plera.scheduling.worker import Worker
    from plera.server import create_server
    from plera.startup import OWNER_EMAIL, ensure_default_workspace

    # SIGTERM stops like Ctrl-C: uvicorn shuts down and swallows the interrupt, then the pipeline and the
    # services close and the embedded PostgreSQL's exit hook stops it. Python's default would kill the
    # process at once (uvicorn re-raises the signal) and leave the embedded server running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with services(keeps_clock_mode=True) as sv:
        base_url = f"http://{host}:{port}"
        key, owner_link = ensure_default_workspace(sv, console, base_url)
        pipeline = _pipeline(sv)
        pipeline.start()
        worker = Worker(sv)
        worker.start()
        console.print(f"Plera is serving on [bold]{base_url}[/] (API docs at /docs)")
        if isinstance(sv.clock, SimulatedClock):
            console.print(
                f"The clock is simulated, at {sv.clock.now().isoformat()}: move it with `plera clock advance`"
            )
        console.print(
            f"Workspace 'default' API key: [bold]{key}[/]" if key else "Workspace 'default' exists.", soft_wrap=True
        )
        if owner_link:
            console.print(
                f"Sign in at {base_url} as {OWNER_EMAIL} once you set the password at: [bold]{owner_link}[/]",
                soft_wrap=True,
            )
        try:
            uvicorn.run(create_server(sv), host=host, port=port, log_level="info")
        finally:
            worker.stop()
            pipeline.stop()


@user_app.command("add")
def user_add(
    email: str,
    workspace: Annotated[str, typer.Option(help="The workspace's name or id.")] = "default",
    name: Annotated[str, typer.Option(help="The person's name, shown in the app and in history.")] = "",
    role: Annotated[str, typer.Option(help="owner or member.")] = "member",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of a link.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {user_id, sign_in_url} as JSON.")] = False,
) -> None:
    """Adds a person to a workspace and prints a one-time link where they set their password."""
    import sys

    from plera.commands.users import AddUser, add_user, check_password_rules, find_workspace, issue_password_link
    from plera.commands.users import set_password as set_user_password

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            check_password_rules(password)
        except DomainError as e:
            fail(e.detail)
    try:
        cmd = AddUser(email=email, name=name, role=role)
    except ValidationError as e:
        fail("; ".join(err["msg"] for err in e.errors()))
    with services() as sv:
        target = find_workspace(sv, workspace)
        user = add_user(sv, target.id, cmd, actor="cli")
        url = None
        if password is not None:
            set_user_password(sv, user.id, password, via="cli", actor="cli")
        else:
            url = issue_password_link(sv, user.id, sv.settings.public_url)
    if as_json:
        print(json.dumps({"user_id": str(user.id), "sign_in_url": url}))
    elif url:
        console.print(
            f"Added {escape(user.name)} to {escape(repr(target.name))}. Set a password at: {url}", soft_wrap=True
        )
    else:
        console.print(
            f"Added {escape(user.name)} to {escape(repr(target.name))}; they can sign in now.", soft_wrap=True
        )


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
        console.print(
            f"Workspace {escape(repr(name))} created: {result['id']}\nAPI key: {result['api_key']}", soft_wrap=True
        )


@app.command()
def demo() -> None:
    """Runs a scripted scenario on the embedded defaults and prints what happened."""
    from plera.demo import run_demo

    # Into a file or a pipe rich would fit the tables to 80 columns, wrapping every cell: give them room.
    out = console if console.is_terminal or "COLUMNS" in os.environ else Console(width=FILE_WIDTH)
    with services() as sv:
        pipeline = _pipeline(sv)
        pipeline.start()
        try:
            run_demo(sv, out, pipeline.catch_up)
        finally:
            pipeline.stop()


@app.command()
def history(
    lead_id: str,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO 8601 instant; default: every event, whatever the clock.")
    ] = None,
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


def _until_interrupted(target: Any) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        target(stop)
    except KeyboardInterrupt:
        stop.set()


def _bootstrap(sv: Services) -> str:
    if not sv.settings.kafka_bootstrap:
        fail("PLERA_KAFKA_BOOTSTRAP is not set: without Kafka, `plera up` feeds the read models in process")
    return str(sv.settings.kafka_bootstrap)


@app.command()
def relay() -> None:
    """Publishes the event store to Kafka (one relay at a time holds the lock; others stand by)."""
    from plera.consumers.relay import run_relay

    with services() as sv:
        bootstrap = _bootstrap(sv)
        _until_interrupted(lambda stop: run_relay(sv, bootstrap, stop))


@app.command()
def worker() -> None:
    """Dispatches due steps, recovers expired claims and applies the rollover (several may run)."""
    from plera.scheduling.worker import Worker

    with services() as sv:
        running = Worker(sv)
        running.start()
        try:
            _until_interrupted(lambda stop: stop.wait())
        finally:
            running.stop()


@app.command("linkedin-sandbox")
def linkedin_sandbox(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8090,
    webhook_url: Annotated[str | None, typer.Option(help="Where to POST invite_accepted and message_received.")] = None,
    webhook_secret: Annotated[str | None, typer.Option(help="The workspace webhook secret that signs them.")] = None,
) -> None:
    """A local LinkedIn provider (docs/linkedin-provider.md) for demos and tests; GET /_sandbox/state shows what it got."""
    from plera.channels.linkedin_sandbox import serve

    console.print(f"LinkedIn sandbox on [bold]http://{host}:{port}[/]")
    serve(host, port, webhook_url=webhook_url, webhook_secret=webhook_secret)


@app.command()
def consume() -> None:
    """Feeds the read models from Kafka as a member of the consumer group."""
    from plera.consumers.kafka_consumer import KafkaFeed
    from plera.projections.all import ALL

    with services() as sv:
        feed = KafkaFeed(sv, ALL, _bootstrap(sv), group=sv.settings.kafka_group)
        try:
            _until_interrupted(feed.run)
        finally:
            feed.close()


def _projections_named(name: str | None) -> list[Any]:
    """The projection called `name`, or all of them; an unknown name ends the command (exit 2)."""
    from plera.projections.all import ALL, by_name

    try:
        return [by_name(name)] if name else ALL
    except KeyError as e:
        fail(str(e.args[0]))
        raise  # not reached: fail exits


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection; all when omitted.")] = None,
) -> None:
    """Rebuilds read models from the whole event log, then swaps them in."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from plera.projections.maintenance import rebuild

    chosen = _projections_named(name)
    with services() as sv:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("replaying the log", total=None)
            events, seconds = rebuild(
                sv, chosen, progress=lambda reached, last: bar.update(task, completed=reached, total=last)
            )
    rate = events / seconds if seconds else 0.0
    names = ", ".join(p.name for p in chosen)
    console.print(f"Rebuilt {names}: {events} events in {seconds:.2f} s ({rate:,.0f} events/s)")


@projections_app.command("verify")
def projections_verify() -> None:
    """Rebuilds every read model into a scratch schema and compares it with the live one (exit 1 on a difference)."""
    from plera.projections.all import ALL
    from plera.projections.maintenance import verify

    with services() as sv:
        differences = verify(sv, ALL)
    if differences:
        for line in differences:
            console.print(escape(line), soft_wrap=True)
        raise typer.Exit(1)
    console.print("The read models match a rebuild from the event log.")


@projections_app.command("retry")
def projections_retry(
    name: Annotated[str | None, typer.Argument(help="One projection; all when omitted.")] = None,
) -> None:
    """Applies the events read models kept aside (dead letters) again, after a fix (exit 1 while some still fail)."""
    from plera.projections.retry import retry

    chosen = _projections_named(name)
    with services() as sv:
        done = retry(sv, chosen)
    console.print(f"Applied {done.applied} dead letter(s); {len(done.failing)} still fail.")
    for line in done.failing:
        console.print(escape(line), soft_wrap=True)
    if done.failing:
        raise typer.Exit(1)


def _simulated(sv: Services) -> SimulatedClock:
    if not isinstance(sv.clock, SimulatedClock):
        fail("the clock is not simulated: start `plera up` with PLERA_CLOCK=simulated, or set it for this command")
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
        try:
            now = _simulated(sv).advance(by)
        except (OverflowError, psycopg.DataError):
            fail(f"advancing by {duration} would take the clock past the year 9999")
        console.print(now.isoformat())


def main() -> None:
    app(prog_name="plera")


if __name__ == "__main__":
    main()
