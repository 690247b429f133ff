#!/usr/bin/env bash
# The project's one test command:  bash infra/test.sh [pytest arguments...]
#
# Works on a fresh clone: makes .venv (Python >= 3.11) if missing, installs
# the project with its test extras, finds PostgreSQL, starts a Kafka-protocol
# broker, then runs ruff, mypy and pytest. Exits non-zero on any failure,
# including a pytest run that collected no tests.
#
# Environment:
#   PLERA_TEST_DATABASE_URL  a PostgreSQL server for the tests; when unset and one
#                            answers at 127.0.0.1:5432 (database "test"), that is
#                            used, else the tests start an embedded PostgreSQL.
#   PLERA_KAFKA_BOOTSTRAP    a Kafka broker (host:port); when unset, one is
#                            started by infra/kafka_broker.py and stopped on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
die() {
    printf 'infra/test.sh: %s\n' "$*" >&2
    exit 1
}

# --- Python environment -------------------------------------------------------
if [[ ! -x .venv/bin/python ]]; then
    python=""
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
    [[ -n $python ]] || die "Python 3.11 or newer is needed to create .venv"
    step "creating .venv with $(command -v "$python")"
    "$python" -m venv .venv
fi
PY=$PWD/.venv/bin/python

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/plera-test.XXXXXX")
broker_pid=""
cleanup() {
    if [[ -n $broker_pid ]] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pip's notes about index locations configured on this machine but absent are noise here.
pip_noise='is ignored: it is neither a file nor a directory'

step "installing plera with its test extras into .venv"
if ! "$PY" -m pip install --quiet --disable-pip-version-check --no-input -e '.[test]' >"$work_dir/pip.log" 2>&1; then
    grep -v -- "$pip_noise" "$work_dir/pip.log" >&2 || true
    die "pip install -e '.[test]' failed"
fi
grep -v -- "$pip_noise" "$work_dir/pip.log" || true

# --- Chromium for the web app's browser tests (tests/web) ------------------------
# Debian's package, driven by Playwright through its executable path: Playwright's own browser download
# cannot work here, so `playwright install` is never run. CI runs as root; a machine that has it skips this.
if [[ ! -x /usr/bin/chromium ]]; then
    step "installing Debian's chromium for the browser tests"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq >"$work_dir/apt.log" 2>&1 || { cat "$work_dir/apt.log" >&2; die "apt-get update failed"; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>"$work_dir/apt.log" 2>&1 ||
            { cat "$work_dir/apt.log" >&2; die "apt-get install chromium failed"; }
    else
        printf 'infra/test.sh: not root, so chromium is not installed: the browser tests will be skipped\n' >&2
    fi
fi

# --- PostgreSQL -----------------------------------------------------------------
if [[ -z ${PLERA_TEST_DATABASE_URL:-} ]]; then
    local_pg=postgresql://postgres@127.0.0.1:5432/test
    if "$PY" - "$local_pg" <<'PYEOF' 2>/dev/null; then
import sys

import psycopg

with psycopg.connect(sys.argv[1], connect_timeout=3) as conn:
    conn.execute("SELECT 1")
PYEOF
        export PLERA_TEST_DATABASE_URL=$local_pg
    fi
fi
if [[ -n ${PLERA_TEST_DATABASE_URL:-} ]]; then
    step "PostgreSQL: ${PLERA_TEST_DATABASE_URL}"
else
    step "PostgreSQL: none at 127.0.0.1:5432; the tests use an embedded server"
fi

# --- Kafka ------------------------------------------------------------------------
if [[ -z ${PLERA_KAFKA_BOOTSTRAP:-} ]]; then
    step "starting a Kafka-protocol broker (infra/kafka_broker.py)"
    "$PY" infra/kafka_broker.py --data-dir "$work_dir/kafka" \
        >"$work_dir/bootstrap" 2>"$work_dir/broker.err" </dev/null &
    broker_pid=$!
    bootstrap=""
    for _ in $(seq 1 1800); do # 180 s: the first run also installs noida-db
        IFS= read -r bootstrap <"$work_dir/bootstrap" || true
        [[ -n $bootstrap ]] && break
        if ! kill -0 "$broker_pid" 2>/dev/null; then
            cat "$work_dir/broker.err" >&2
            die "the Kafka broker did not start"
        fi
        sleep 0.1
    done
    if [[ -z $bootstrap ]]; then
        cat "$work_dir/broker.err" >&2
        die "the Kafka broker printed no bootstrap address within 180 s"
    fi
    export PLERA_KAFKA_BOOTSTRAP=$bootstrap
    step "Kafka: ${PLERA_KAFKA_BOOTSTRAP} (noida-db, stopped on exit)"
else
    step "Kafka: ${PLERA_KAFKA_BOOTSTRAP} (from PLERA_KAFKA_BOOTSTRAP)"
fi

# --- Checks ---------------------------------------------------------------------
status=0
run() { # run LABEL COMMAND...: a failure is recorded, and the other checks still run
    local label=$1
    shift
    step "$label"
    if ! "$@"; then
        printf 'FAILED: %s\n' "$label" >&2
        status=1
    fi
}

run "ruff check src tests" "$PY" -m ruff check src tests
run "ruff format --check src tests" "$PY" -m ruff format --check src tests
run "mypy src" "$PY" -m mypy src

step "pytest -q${*:+ $*}"
set +e
"$PY" -m pytest -q "$@"
pytest_status=$?
set -e
case $pytest_status in
    0) ;;
    5)
        printf 'FAILED: pytest collected no tests\n' >&2
        status=1
        ;;
    *)
        printf 'FAILED: pytest (exit %d)\n' "$pytest_status" >&2
        status=1
        ;;
esac

if [[ $status -eq 0 ]]; then
    step "all checks passed"
else
    step "some checks failed"
fi
exit "$status"
