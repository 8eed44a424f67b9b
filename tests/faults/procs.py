"""Real processes for the fault tests: a private Redis, a private PostgreSQL cluster, Celery
worker and beat, gunicorn. Each runs in its own process group (start_new_session) so that
stopping it, or a fixture's finalizer after a failure, stops everything it forked.

Nothing here touches the machine's shared PostgreSQL or Redis servers: every server is started
on a free port in a temporary directory and removed with it.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import free_port, http_get, stop_group

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.faults.settings"


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def children_of(pid: int) -> list[int]:
    """Direct children of a process, from /proc (the prefork pool processes of a worker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing bracket
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- Redis --------------------------------------------------------------------------------------


class RedisServer:
    """`redis-server` on a free loopback port, no persistence, in `workdir`.

    stop() and start() again keep the port, so clients configured with `url` see an outage.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(  # noqa: S603  (fixed arguments)
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            start_new_session=True,
        )
        if not wait_for(self.answers, timeout=15):
            self.stop()
            raise RuntimeError(f"redis-server did not answer:\n{tail(self.workdir / 'redis.log')}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_group(process, timeout=10)


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian's /usr/lib/postgresql/N/bin)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3])
    )
    if candidates:
        return candidates[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")


class PostgresCluster:
    """A throw-away cluster: initdb in a temporary directory, a free port, trust auth.

    As root, the server runs as the `postgres` OS user (PostgreSQL refuses to run as root), and
    the directory is given to that user.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.bin = postgres_bin()
        self.running = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(  # noqa: S603  (fixed arguments)
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{tail(self.log)}"
            )
        return result

    def init(self) -> "PostgresCluster":
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (self.root,):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        self.running = True

    def restart(self, mode: str = "fast") -> float:
        """`pg_ctl restart -m <mode>`; returns how long the command took (the outage)."""
        started = time.monotonic()
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", mode,
            "-w", "-t", "60", "restart",
        )  # fmt: skip
        return time.monotonic() - started

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> None:
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres"
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{dbname}"')
        finally:
            conn.close()


# --- Django processes ---------------------------------------------------------------------------


def django_env(
    *, database_url: str, redis_url: str, media_root: Path, mail_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of every process a fault test starts (see tests/faults/settings.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_MEDIA_ROOT=str(media_root),
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        DJANGO_EMAIL_FILE_PATH=str(mail_dir),
        EMAIL_URL="",  # never a real mail server, whatever .env says
        REDIS_CACHE_URL="",  # nor the machine's Redis for the cache
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class Process:
    """A command in its own process group, output to a log file; stopped with its children."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, list(command), env, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "Process":
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(  # noqa: S603  (our own commands)
                self.command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_group(self) -> None:
        """SIGKILL the whole process group at once: a machine or container dying."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def stop(self, *, warm: bool = False, timeout: float = 30) -> None:
        process, self.process = self.process, None
        stop_group(process, timeout=timeout, term_group=not warm)

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)


def celery_worker(name: str, env: dict[str, str], log: Path, concurrency: int = 2) -> Process:
    """The Makefile's WORKER_CMD (prefork, `concurrency` processes, prefetch multiplier 1),
    without gossip and mingle: a faster start, nothing changes in how tasks are delivered."""
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING",
        "--pool", "prefork", "--concurrency", str(concurrency), "--prefetch-multiplier", "1",
        "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    return Process(name, command, env, log)


def celery_beat(env: dict[str, str], workdir: Path) -> Process:
    """The Makefile's BEAT_CMD (django-celery-beat's database scheduler)."""
    command = [
        sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
        "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile", str(workdir / "beat.pid"),
    ]  # fmt: skip
    return Process("beat", command, env, workdir / "beat.log")


def gunicorn(env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 4) -> Process:
    """The Makefile's GUNICORN_CMD shape on a free port; `.port` says where."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--timeout", "60", "--keep-alive", "5", "--log-level", "warning",
    ]  # fmt: skip
    process = Process("gunicorn", command, env, log)
    process.port = port  # type: ignore[attr-defined]
    return process


def wait_http_ok(process: Process, port: int, path: str = "/healthz", timeout: float = 60) -> None:
    def ok() -> bool:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        try:
            return http_get("127.0.0.1", port, path)[0] == 200
        except OSError:
            return False

    if not wait_for(ok, timeout=timeout, interval=0.2):
        raise RuntimeError(f"{process.name} did not answer {path}:\n{process.tail()}")


def manage(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    """`manage.py <args>` in a subprocess; its stdout, or an error with its output."""
    result = subprocess.run(  # noqa: S603  (our own command)
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
    return result.stdout
