"""Helpers shared by the benchmarks in bench/.

- a throw-away PostgreSQL database (created, migrated, dropped) on the server that DATABASE_URL
  names, or postgres@127.0.0.1:5432;
- fast seeding with COPY from unsaved model instances;
- a gunicorn server on a free port, and Celery workers on a private queue, always stopped on
  exit, error or Ctrl-C;
- a keep-alive HTTP load generator in pure Python (threads, http.client);
- a plain-text table and machine facts for docs/benchmarks.md.

Nothing here imports Django at module level: a script first calls `use_bench_database()`,
then `django.setup()`.
"""

import csv
import http.client
import io
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
NULL = "\\N"  # COPY's NULL marker (set explicitly below; CSV would otherwise mix it with '')


# --- The benchmark database -------------------------------------------------------------------


def bench_database_url(name: str) -> str:
    """BENCH_DATABASE_URL if set; else DATABASE_URL's server (or the local one) with `name`."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        server = DEFAULT_SERVER
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _connect_admin(url: str) -> Any:
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=parts.username or "postgres",
        password=parts.password,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
    )
    conn.autocommit = True
    return conn


def _db_name(url: str) -> str:
    """The database name, which benchmarks drop: refuse any that does not say it is a bench's."""
    name = urlsplit(url).path.lstrip("/")
    if not name.replace("_", "").isalnum() or "bench" not in name:
        raise ValueError(
            f"refusing to drop or create {name!r}: a benchmark database has 'bench' in its name"
        )
    return name


def drop_database(url: str) -> None:
    conn = _connect_admin(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{_db_name(url)}" WITH (FORCE)')
    finally:
        conn.close()


def recreate_database(url: str) -> None:
    """Drop the database if it exists and create it empty."""
    drop_database(url)
    conn = _connect_admin(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{_db_name(url)}"')
    finally:
        conn.close()


def use_bench_database(url: str, settings_module: str = "bench.settings") -> None:
    """Point this process (and the servers it starts) at the benchmark database."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    os.environ["BENCH_DATABASE_URL"] = url


# --- Seeding with COPY ------------------------------------------------------------------------


def _copy_value(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def copy_objects(objs: Sequence[Any], batch_size: int = 20_000) -> int:
    """INSERT unsaved model instances with COPY, every concrete column as set on the instance.

    Primary keys must be set by the caller (see `reset_sequences`). No save(), no signals,
    no auto_now: set created_at/updated_at yourself. Returns the number of rows.
    """
    from django.db import connection

    if not objs:
        return 0
    meta = objs[0]._meta
    fields = meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    db_table = connection.ops.quote_name(meta.db_table)
    sql = f"COPY {db_table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')"
    attnames = [f.attname for f in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            for obj in objs[start : start + batch_size]:
                writer.writerow([_copy_value(getattr(obj, name)) for name in attnames])
            buffer.seek(0)
            cursor.cursor.copy_expert(sql, buffer)  # the psycopg2 cursor under Django's wrapper
    return len(objs)


def reset_sequences(models: Iterable[Any]) -> None:
    """After inserting explicit ids, move each table's id sequence past the largest one."""
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def vacuum_analyze() -> None:
    """Fresh statistics and visibility map, as a long-running database would have."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # Django runs in autocommit outside atomic()


# --- The server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`python -m gunicorn <app>` on 127.0.0.1:<free port>; stops its whole process group."""

    def __init__(
        self,
        *,
        app: str = "config.wsgi:application",
        workers: int,
        threads: int,
        ready_path: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.app, self.workers, self.threads, self.ready_path = app, workers, threads, ready_path
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            "--bind",
            f"{self.host}:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--chdir",
            str(REPO_ROOT),
            "--timeout",
            "60",
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ]

    def __enter__(self) -> "Gunicorn":
        # Its own process group, so that stopping it also stops every worker it forked.
        self.process = subprocess.Popen(self.command(), env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}")
            try:
                status, _body = http_get(self.host, self.port, self.ready_path)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer within 60 seconds")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_group(process, timeout=15)  # graceful: workers finish their requests


def stop_group(
    process: "subprocess.Popen[bytes] | None", timeout: float, *, term_group: bool = True
) -> None:
    """Stop a process started with start_new_session=True and the children it forked.

    SIGTERM goes to the whole group (or, with term_group=False, to the leader only, which then
    stops its own children: Celery's warm shutdown); the group is SIGKILLed if the leader is
    still there after `timeout` seconds or if we are interrupted while waiting.
    """
    if process is None:
        return
    if process.poll() is None:
        if term_group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)  # interrupted again: leave nothing running
            process.wait()
            raise
    try:  # children that outlived their leader go too
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class CeleryWorker:
    """`python -m celery -A config worker`, stopped with its whole process group.

    The command is the Makefile's WORKER_CMD (prefork, prefetch multiplier 1) plus a node name,
    optionally `--queues` and `--include` for extra task modules (a benchmark's warm-up task).
    Give it a private broker (REDIS_URL with its own database number) in `env`.
    Output goes to `log_path`; `tail()` shows it when something goes wrong.
    """

    def __init__(
        self,
        *,
        name: str,
        concurrency: int,
        log_path: Path,
        queues: Sequence[str] = (),
        include: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.name, self.concurrency, self.log_path = name, concurrency, log_path
        self.queues, self.include = list(queues), list(include)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "WARNING",
            "--pool",
            "prefork",
            "--concurrency",
            str(self.concurrency),
            "--prefetch-multiplier",
            "1",
            "--hostname",
            f"{self.name}@%h",
        ]
        if self.queues:
            command += ["--queues", ",".join(self.queues)]
        if self.include:
            command += ["--include", ",".join(self.include)]
        return command

    def __enter__(self) -> "CeleryWorker":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopping it stops every child
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        # Warm shutdown: the main process lets a task in progress finish, then stops its pool.
        stop_group(process, timeout=30, term_group=False)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def terminate_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally:` blocks (server stop, database drop) run."""

    def _raise(signum: int, frame: object) -> None:
        # Once: `timeout` and service managers may send it twice, which would cut the cleanup.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


# --- Load -------------------------------------------------------------------------------------


def http_get(
    host: str, port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass(frozen=True)
class LoadResult:
    name: str
    path: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency at quantile q (0..1) in milliseconds, nearest-rank."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[index] * 1000


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """One result from several slices of the same page (requests and seconds add up)."""
    return LoadResult(
        results[0].name,
        results[0].path,
        sum(r.requests for r in results),
        sum(r.errors for r in results),
        sum(r.seconds for r in results),
        [x for r in results for x in r.latencies],
    )


def _client(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    warm_until: float,
    stop_at: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    mine: list[float] = []
    failed = 0
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
            if response.will_close:
                conn.close()  # http.client reconnects on the next request
        except (OSError, http.client.HTTPException):
            conn.close()
            ok = False
        if started >= warm_until:
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                failed += 1
    conn.close()
    latencies.extend(mine)  # list.extend is atomic under the GIL
    errors.append(failed)


def run_load(
    *,
    name: str,
    host: str,
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    concurrency: int,
    seconds: float,
    warmup: float,
) -> LoadResult:
    """`concurrency` keep-alive clients GET `path` in a closed loop for warmup + seconds.

    Requests started during the warm-up are not counted; throughput is the number of
    successful requests started in the measured window divided by its length.
    """
    headers = {"Host": f"{host}:{port}", "Accept-Encoding": "identity", **(headers or {})}
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    errors: list[int] = []
    threads = [
        threading.Thread(
            target=_client,
            daemon=True,
            args=(host, port, path, headers, warm_until, stop_at, latencies, errors),
        )
        for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(name, path, len(latencies), sum(errors), seconds, latencies)


# --- Reporting --------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table. Floats get one decimal unless given as Decimal (kept as is);
    numbers are right-aligned."""
    body = [[_cell(cell) for cell in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str], raw: Sequence[Any]) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = isinstance(raw[i], int | float | Decimal)
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [line(headers, headers), line(["-" * w for w in widths], headers)]
    lines += [line(cells, raw) for cells, raw in zip(body, rows, strict=True)]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": str(cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def load_average() -> str:
    """The 1, 5 and 15-minute load averages: other work on the machine skews every figure."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_count() -> int:
    """Cores this process may run on (what `nproc` prints)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
