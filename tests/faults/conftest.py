"""Fixtures for the fault-injection tests: private servers, real processes, and the figures.

Every server and process a test starts is stopped by a finalizer, whatever happens: Redis and
PostgreSQL run on free ports in temporary directories (never the machine's shared servers),
Celery and gunicorn in their own process groups. Each test records its figures with `figures`;
they are written to test-artifacts/faults/<test>.json and printed at the end of the run.
"""

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.faults.procs import REPO_ROOT, PostgresCluster, Process, RedisServer, postgres_bin

ARTIFACTS = REPO_ROOT / "test-artifacts" / "faults"
_FIGURES: dict[str, dict[str, Any]] = {}


def _missing_tools() -> list[str]:
    missing = [] if shutil.which("redis-server") else ["redis-server"]
    try:
        postgres_bin()
    except RuntimeError:
        missing.append("PostgreSQL server binaries")
    return missing


@pytest.fixture(autouse=True)
def _tools_present(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("faults") is None:
        return  # in-process tests here need no servers of their own
    missing = _missing_tools()
    if missing:
        message = f"fault tests need {', '.join(missing)} installed"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the cleanup must not be cut short
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A temporary directory for logs, mail and servers; removed afterwards (kept if
    FAULTS_KEEP=1). While it exists, SIGTERM (a CI timeout) interrupts the test like Ctrl-C,
    so that the finalizers still stop every server and process the test started."""
    path = Path(tempfile.mkdtemp(prefix="cv-faults-"))
    path.chmod(0o755)  # the postgres OS user must reach a cluster inside it
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield path
    finally:
        signal.signal(signal.SIGTERM, previous)
        if os.environ.get("FAULTS_KEEP") != "1":
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir / "redis")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_cluster(workdir: Path) -> Iterator[PostgresCluster]:
    root = workdir / "pg"
    root.mkdir()
    cluster = PostgresCluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        except Exception:  # noqa: S110  (already gone; the directory goes with workdir)
            pass


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Register each started Process here; all are stopped (last started first) at teardown."""
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop(timeout=20)


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[str]:
    """Point this process's Celery app at the private Redis (tasks published after commit
    travel through it instead of running eagerly)."""
    from config.celery import app
    from tests.conftest import _reset_broker_pools

    url = redis_server.url()
    saved = {k: app.conf.get(k) for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=url, task_always_eager=False)
    _reset_broker_pools(app)
    try:
        yield url
    finally:
        app.conf.update(saved)
        _reset_broker_pools(app)


def db_url_for_processes() -> str:
    """The test database this process uses, for the processes it starts."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The test's figures, saved (also when it fails) and printed in the terminal summary."""
    data: dict[str, Any] = {}
    started = time.monotonic()
    yield data
    data["test_seconds"] = round(time.monotonic() - started, 1)
    name = request.node.name
    _FIGURES[name] = data
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.write_sep("=", "fault-injection figures")
    for name, data in _FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in data.items():
            terminalreporter.write_line(f"  {key}: {json.dumps(value, default=str)}")
