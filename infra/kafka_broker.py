#!/usr/bin/env python3
"""Run a local Kafka-protocol broker (noida-db) for tests and CI.

    python infra/kafka_broker.py [--data-dir DIR] [--port N]

Installs the hash-pinned noida-db from ``infra/kafka-broker-requirements.txt``
into its own virtualenv under the user cache directory (reused on later runs),
starts it with only its Kafka service on a loopback port, waits until a
kafka-python admin client connects, prints ``127.0.0.1:PORT`` on one line of
stdout and keeps running until SIGTERM or SIGINT, when it stops the broker.

Tests import this file by path and use :func:`start_broker` and
:func:`stop_broker` (see ``tests/broker.py``). Only the standard library and
kafka-python are used. Why noida-db: docs/decisions/0004-kafka-protocol-broker-in-ci.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import cast

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "kafka-broker-requirements.txt"
HOST = "127.0.0.1"
LOG_NAME = "noida-db.log"
STARTUP_TIMEOUT = 60.0
STOP_GRACE = 10.0


class BrokerError(RuntimeError):
    """The broker could not be installed or did not come up."""


# --------------------------------------------------------------------------- install


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/plera/noida``, else ``~/.cache/plera/noida``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plera" / "noida"


def venv_dir() -> Path:
    """The venv for the current requirements file; a changed pin gets a new one."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return cache_root() / f"venv-{digest}"


def _venv_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_executable(env_dir: Path) -> Path | None:
    """The noida-db server binary inside *env_dir*, or None when not installed.

    The package's ``bin/noida-db`` is a Python wrapper that runs the real binary
    as a child with ``subprocess.call`` and does not forward signals, so the
    binary shipped in the package is run directly: SIGTERM then reaches the
    server itself.
    """
    if not (env_dir / ".installed").is_file():
        return None
    for candidate in sorted(env_dir.glob("lib/python3*/site-packages/noida_db/noida-db")):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(0o755)
            return candidate
    wrapper = env_dir / "bin" / "noida-db"
    return wrapper if wrapper.is_file() else None


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no concurrent installs expected
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed(quiet: bool = True) -> Path:
    """Install the pinned noida-db into its cached venv if needed; return its binary."""
    env_dir = venv_dir()
    found = find_executable(env_dir)
    if found:
        return found
    with _install_lock(env_dir.parent):
        found = find_executable(env_dir)  # another process may have finished meanwhile
        if found:
            return found
        if env_dir.exists():
            shutil.rmtree(env_dir)  # a half-finished install
        print(f"kafka_broker: installing noida-db into {env_dir}", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        cmd = [
            str(_venv_python(env_dir)),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--require-hashes",
            "--only-binary=:all:",
            "-r",
            str(REQUIREMENTS),
        ]
        if quiet:
            cmd.append("-q")
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise BrokerError(
                f"installing noida-db failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stdout}{done.stderr}"
            )
        (env_dir / ".installed").write_text("ok\n")
        found = find_executable(env_dir)
        if not found:
            raise BrokerError(f"noida-db installed into {env_dir} but its executable was not found")
        return found


# --------------------------------------------------------------------------- run


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the parent: nothing may be loaded between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return cast("Callable[..., int]", ctypes.CDLL(None, use_errno=True).prctl)
    except Exception:  # best effort
        return None


_PR_SET_PDEATHSIG = 1


def _child_setup(prctl: Callable[..., int] | None) -> Callable[[], None]:
    def setup() -> None:
        # Runs in the child between fork and exec: its own session (so a stop can
        # signal its whole group), and SIGTERM when the parent dies, so that a
        # killed test run leaves no broker behind.
        os.setsid()
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return setup


def log_tail(data_dir: str | os.PathLike[str], limit: int = 4000) -> str:
    path = Path(data_dir) / LOG_NAME
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no broker log at {path})"
    return text[-limit:] if text.strip() else f"(broker log {path} is empty)"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _admin_connects(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="plera-broker-probe",
            request_timeout_ms=5000,
            bootstrap_timeout_ms=5000,
        )
    except KafkaConfigurationError:
        raise  # our mistake, not a broker still starting
    except (KafkaError, OSError):
        return False
    admin.close()
    return True


def wait_ready(proc: subprocess.Popen[bytes], bootstrap: str, data_dir: str, timeout: float) -> None:
    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(
                f"noida-db exited with code {proc.returncode} before {bootstrap} was ready; "
                f"its log:\n{log_tail(data_dir)}"
            )
        if _port_open(host, int(port)) and _admin_connects(bootstrap):
            return
        time.sleep(0.2)
    raise BrokerError(
        f"noida-db did not accept a Kafka admin client at {bootstrap} within {timeout:.0f}s; "
        f"its log:\n{log_tail(data_dir)}"
    )


def start_broker(
    data_dir: str | os.PathLike[str],
    port: int | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start noida-db (Kafka only) with its data in *data_dir*; return (process, bootstrap).

    The broker's output goes to ``<data_dir>/noida-db.log``. Raises BrokerError,
    with that log, when it does not come up. Stop it with :func:`stop_broker`.
    """
    executable = ensure_installed()
    data = Path(data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    attempts = 1 if port else 3  # a free port can be taken between picking and binding
    last_error: BrokerError | None = None
    for _ in range(attempts):
        chosen = port or free_port()
        bootstrap = f"{HOST}:{chosen}"
        cmd = [
            str(executable),
            "start",
            "--data-dir",
            str(data),
            "--host",
            HOST,
            "--only",
            "kafka",
            "--kafka-port",
            str(chosen),
        ]
        with open(data / LOG_NAME, "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(data),
                preexec_fn=_child_setup(_load_prctl()) if os.name == "posix" else None,
            )
        try:
            wait_ready(proc, bootstrap, str(data), timeout)
        except BrokerError as exc:
            stop_broker(proc)
            last_error = exc
            continue
        except BaseException:
            stop_broker(proc)
            raise
        return proc, bootstrap
    assert last_error is not None
    raise last_error


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(proc.pid, sig)  # the broker leads its own session (see _child_setup)
        else:
            proc.send_signal(sig)


def stop_broker(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> int | None:
    """SIGTERM the broker, SIGKILL it after *grace* seconds; return its exit code."""
    if proc.poll() is None:
        _signal(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            proc.wait()
    return proc.returncode


# --------------------------------------------------------------------------- CLI


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data-dir", help="broker data directory (default: a temporary one, removed on exit)")
    parser.add_argument("--port", type=int, help="Kafka port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--timeout", type=float, default=STARTUP_TIMEOUT, help="startup timeout in seconds")
    args = parser.parse_args(argv)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _raise_stop)

    own_dir = args.data_dir is None
    data_dir = tempfile.mkdtemp(prefix="plera-kafka-") if own_dir else args.data_dir
    proc: subprocess.Popen[bytes] | None = None
    code = 0
    try:
        proc, bootstrap = start_broker(data_dir, port=args.port, timeout=args.timeout)
        print(bootstrap, flush=True)
        print(f"kafka_broker: noida-db pid {proc.pid}, log {Path(data_dir) / LOG_NAME}", file=sys.stderr)
        while True:
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                continue
            print(
                f"kafka_broker: noida-db exited unexpectedly with code {proc.returncode}; its log:\n"
                f"{log_tail(data_dir)}",
                file=sys.stderr,
            )
            code = 1
            break
    except _Stop:
        code = 0
    except BrokerError as exc:
        print(f"kafka_broker: {exc}", file=sys.stderr)
        code = 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # finish stopping the broker undisturbed
        if proc is not None:
            stop_broker(proc)
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
