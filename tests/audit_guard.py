"""The audit coverage guard: a service that changes data must write an audit event.

Registered from tests/conftest.py, so it watches the whole test suite. When the session has
collected its tests, every public function of every service module of the project's apps
(`<app>/services.py`, and each module of an `<app>/services/` package) is replaced, wherever it
is referenced from a loaded module, by a wrapper. For each *outermost* service call (a service
called by another service is part of its caller's work), the wrapper watches the SQL the call
runs on its thread's connections (`connection.execute_wrapper`). If the call returns normally
after writing (INSERT, UPDATE or DELETE that touched at least one row) to a table that is not in
EXEMPT_TABLES and did not insert into audit_auditevent, that is a violation: the test phase in
which it happened (setup, call or teardown) fails with the service's name and the tables.

Only writes that stay count: a write inside a savepoint or transaction that the call rolled
back does not, so a service that raises after rolling back is fine, while one that commits part
of its work and then raises (say, a run stored as failed) must have recorded that part.

`pytest --audit-guard=report` lists every violation at the end instead of failing tests, and
the services the run never called; `--audit-guard=off` switches the guard off.
"""

import functools
import inspect
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Tables a service may write to without writing an audit event itself, each with the reason.
# Keep this short: an entry here means "a change to this table is never worth an event".
# (Sessions, django-axes counters and the beat scheduler's tables are not listed: no service
# writes them; logins, failed logins and logouts are audited by accounts.signals.)
EXEMPT_TABLES: dict[str, str] = {
    # The audit trail's own bookkeeping: audit_record writes the event and advances the head.
    "audit_auditevent": "the audit trail itself",
    "audit_auditstream": "chain heads, advanced by audit_record with each event",
    "audit_auditcheckpoint": "sealed checkpoints; sealing writes its own event",
    "audit_auditcheckpointhead": "the heads a checkpoint sealed, written with the checkpoint",
    # Side effects of an audited change, and delivery bookkeeping.
    "notifications_notification": (
        "the email outbox: rows queued by an audited change (in its transaction), then their "
        "delivery status, attempts and errors"
    ),
}

# Updates that touch only these columns (and updated_at) are not a change worth an event.
EXEMPT_UPDATE_COLUMNS: dict[str, tuple[set[str], str]] = {
    "accounts_apitoken": ({"last_used_at"}, "a token's last-used stamp, set on every API call"),
}

AUDIT_TABLE = "audit_auditevent"

_WRITE = re.compile(
    r"""\b(?:
        INSERT\s+INTO\s+"?(?P<insert>[\w.]+)"?
      | DELETE\s+FROM\s+"?(?P<delete>[\w.]+)"?
      | UPDATE\s+"?(?P<update>[\w.]+)"?\s+SET\s+(?P<set>.*?)(?:\bWHERE\b|\bRETURNING\b|$)
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_SET_COLUMN = re.compile(r'(?:^|,)\s*"?(\w+)"?\s*=')


@dataclass(frozen=True)
class Violation:
    service: str
    tables: tuple[str, ...]
    where: str  # the test (node id) during which it happened

    def __str__(self) -> str:
        return (
            f"{self.service} wrote to {', '.join(self.tables)} without an audit event "
            f"(during {self.where})"
        )


@dataclass(frozen=True)
class _Write:
    table: str
    kind: str  # insert, update, delete
    connection: int  # id() of the connection it ran on
    generation: int  # which transaction of that connection (see _Writes)
    savepoints: tuple[str, ...]  # the savepoints open around it
    atomic: bool  # False: autocommit, committed at once


_SAVEPOINT_ROLLBACK = re.compile(r'ROLLBACK\s+TO\s+SAVEPOINT\s+"?(\w+)"?', re.IGNORECASE)


@dataclass
class _Writes:
    """What one outermost service call wrote, and which of it was rolled back.

    A service may commit part of its work and then raise (a reconciliation run stored as failed),
    or catch an error inside a savepoint and carry on: only the writes that were not rolled back
    count. Rolled back are writes inside a savepoint rolled back during the call, writes of a
    transaction rolled back during the call, and, when the call leaves its caller's transaction
    doomed (needs_rollback), the writes of that transaction.
    """

    writes: list[_Write] = field(default_factory=list)
    generation: dict[int, int] = field(default_factory=dict)
    rolled_back: set[tuple[int, int]] = field(default_factory=set)  # (connection, generation)
    rolled_back_savepoints: set[tuple[int, str]] = field(default_factory=set)

    def observe(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        head = sql.lstrip()[:8].upper()
        if head.startswith("ROLLBACK"):
            match = _SAVEPOINT_ROLLBACK.match(sql.lstrip())
            if match:
                self.rolled_back_savepoints.add((id(context["connection"]), match[1]))
            return result
        if head[:6] not in ("INSERT", "UPDATE", "DELETE") and not head.startswith("WITH"):
            return result
        rowcount = getattr(context.get("cursor"), "rowcount", -1)
        if rowcount == 0 and head[:6] in ("UPDATE", "DELETE"):
            # An UPDATE or DELETE that matched nothing changed nothing. (Not for INSERT: SQLite
            # reports 0 for an INSERT ... RETURNING until its rows are fetched.)
            return result
        for match in _WRITE.finditer(sql):
            if match["insert"]:
                self._add(context, match["insert"], "insert")
            elif match["delete"]:
                self._add(context, match["delete"], "delete")
            elif match["update"]:
                table = match["update"].lower()
                columns = set(_SET_COLUMN.findall(match["set"] or ""))
                exempt = EXEMPT_UPDATE_COLUMNS.get(table)
                if exempt and columns and columns <= exempt[0] | {"updated_at"}:
                    continue
                self._add(context, table, "update")
        return result

    def _add(self, context: Any, table: str, kind: str) -> None:
        connection = context["connection"]
        key = id(connection)
        self.writes.append(
            _Write(
                table=table.lower().split(".")[-1],
                kind=kind,
                connection=key,
                generation=self.generation.get(key, 0),
                savepoints=tuple(connection.savepoint_ids),
                atomic=connection.in_atomic_block,
            )
        )

    def transaction_ended(self, connection: Any, *, committed: bool) -> None:
        key = id(connection)
        generation = self.generation.get(key, 0)
        if not committed:
            self.rolled_back.add((key, generation))
        self.generation[key] = generation + 1

    def doomed(self, connection: Any) -> None:
        """The call left the caller's transaction to be rolled back: its writes will not stay."""
        key = id(connection)
        self.rolled_back.add((key, self.generation.get(key, 0)))

    def kept(self) -> dict[str, set[str]]:
        """table -> kinds of statement, for the writes not rolled back."""
        tables: dict[str, set[str]] = {}
        for w in self.writes:
            if w.atomic and (
                (w.connection, w.generation) in self.rolled_back
                or any((w.connection, sid) in self.rolled_back_savepoints for sid in w.savepoints)
            ):
                continue
            tables.setdefault(w.table, set()).add(w.kind)
        return tables

    def unaudited(self) -> tuple[str, ...]:
        tables = self.kept()
        if "insert" in tables.get(AUDIT_TABLE, set()):
            return ()
        return tuple(sorted(t for t in tables if t not in EXEMPT_TABLES))


class AuditGuard:
    """Wraps service functions and collects violations; one instance per test session."""

    def __init__(self) -> None:
        self.services: dict[str, Callable] = {}  # "module.function" -> original
        self.calls: dict[str, int] = {}
        self.last_writes: dict[str, dict[str, set[str]]] = {}  # what each service wrote last
        self.violations: list[Violation] = []  # not yet reported by a test phase
        self.all_violations: list[Violation] = []  # reported by a test phase
        self.current = "(outside a test)"
        self.installed = False
        self._lock = threading.Lock()
        self._local = threading.local()

    # --- discovery and installation -----------------------------------------------------------

    @staticmethod
    def service_modules() -> list[ModuleType]:
        """The service modules of the project's own apps, imported."""
        import importlib

        from django.apps import apps
        from django.conf import settings

        base = Path(settings.BASE_DIR).resolve()
        names: list[str] = []
        for app in apps.get_app_configs():
            path = Path(app.path).resolve()
            try:
                relative = path.relative_to(base)
            except ValueError:
                continue  # Django's and third-party apps
            if any(part.startswith(".") or part == "site-packages" for part in relative.parts):
                continue
            if (path / "services.py").is_file():
                names.append(f"{app.name}.services")
            package = path / "services"
            if package.is_dir():
                for file in sorted(package.rglob("*.py")):
                    parts = list(file.relative_to(path).with_suffix("").parts)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    names.append(".".join([app.name, *parts]))
        return [importlib.import_module(name) for name in names]

    @staticmethod
    def public_functions(module: ModuleType) -> dict[str, Callable]:
        """Functions defined in the module whose names do not start with an underscore.

        Generators are left out: their SQL runs after the call returns, outside any wrapper.
        """
        found = {}
        for name, value in vars(module).items():
            # Once installed, the module holds wrappers: report what they wrap.
            obj = value.__wrapped__ if getattr(value, "__audit_guard__", None) else value
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if obj.__module__ != module.__name__:
                continue
            if inspect.isgeneratorfunction(inspect.unwrap(obj)):
                continue
            found[f"{module.__name__}.{name}"] = obj
        return found

    def discover(self) -> dict[str, Callable]:
        found: dict[str, Callable] = {}
        for module in self.service_modules():
            found.update(self.public_functions(module))
        return found

    def install(self) -> None:
        """Wrap every service function and point every loaded module's reference at the wrapper."""
        if self.installed:
            return
        replacements: dict[int, Callable] = {}
        for qualname, func in self.discover().items():
            self.services[qualname] = func
            replacements[id(func)] = self.wrap(func, qualname)
        for module in list(sys.modules.values()):
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for attr, value in items:
                wrapper = replacements.get(id(value))
                if wrapper is not None and getattr(wrapper, "__wrapped__", None) is value:
                    setattr(module, attr, wrapper)
        self.installed = True

    # --- watching calls ------------------------------------------------------------------------

    def wrap(self, func: Callable, qualname: str) -> Callable:
        guard = self

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            local = guard._local
            if getattr(local, "depth", 0):
                local.depth += 1
                try:
                    return func(*args, **kwargs)
                finally:
                    local.depth -= 1
            writes = _Writes()
            local.depth = 1
            try:
                with guard.watching(writes):
                    return func(*args, **kwargs)
            finally:
                local.depth = 0
                guard.check(qualname, writes)

        guarded.__audit_guard__ = qualname  # type: ignore[attr-defined]
        return guarded

    @contextmanager
    def watching(self, writes: _Writes) -> Iterator[None]:
        """Observe every statement, commit and rollback of this thread's connections."""
        from django.db import connections

        with ExitStack() as stack:
            for alias in connections:
                connection = connections[alias]
                stack.enter_context(connection.execute_wrapper(writes.observe))
                stack.enter_context(_transaction_ends(connection, writes))
            try:
                yield
            except BaseException:
                for alias in connections:
                    connection = connections[alias]
                    if connection.in_atomic_block and connection.needs_rollback:
                        writes.doomed(connection)
                raise

    def check(self, qualname: str, writes: _Writes) -> None:
        tables = writes.unaudited()
        with self._lock:
            self.calls[qualname] = self.calls.get(qualname, 0) + 1
            self.last_writes[qualname] = writes.kept()
            if tables:
                self.violations.append(Violation(qualname, tables, self.current))

    def take(self) -> list[Violation]:
        with self._lock:
            taken, self.violations = self.violations, []
        return taken


@contextmanager
def _transaction_ends(connection: Any, writes: _Writes) -> Iterator[None]:
    """Tell `writes` when a transaction of `connection` commits or rolls back."""
    commit, rollback = connection.commit, connection.rollback

    def observed_commit() -> None:
        commit()
        writes.transaction_ended(connection, committed=True)

    def observed_rollback() -> None:
        rollback()
        writes.transaction_ended(connection, committed=False)

    connection.commit, connection.rollback = observed_commit, observed_rollback
    try:
        yield
    finally:
        del connection.commit, connection.rollback  # the class's methods again


GUARD = AuditGuard()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--audit-guard",
        choices=("strict", "report", "off"),
        default="strict",
        help="strict: fail a test whose service calls write without an audit event (default); "
        "report: list them at the end instead; off: do not watch services.",
    )


def _mode(config: pytest.Config) -> str:
    return str(config.getoption("--audit-guard"))


def pytest_collection_finish(session: pytest.Session) -> None:
    # After collection: the test modules (and what they import) hold references to replace.
    if _mode(session.config) != "off":
        GUARD.install()


def _report(item: pytest.Item, phase: str) -> None:
    violations = GUARD.take()
    GUARD.all_violations.extend(violations)
    if violations and _mode(item.config) == "strict":
        lines = "\n".join(f"  - {v.service} wrote to {', '.join(v.tables)}" for v in violations)
        pytest.fail(
            f"audit guard ({phase}): a service changed data without writing an audit event:\n"
            f"{lines}\nAdd an audit_record() call to the service, or, if the table never needs "
            "one, an entry with its reason in EXEMPT_TABLES (tests/audit_guard.py).",
            pytrace=False,
        )


def _phase(phase: str) -> Any:
    @pytest.hookimpl(wrapper=True)
    def hook(item: pytest.Item) -> Any:
        GUARD.current = f"{item.nodeid} ({phase})"
        try:
            result = yield
        except BaseException:
            GUARD.take()  # the phase failed already; its violations would only add noise
            raise
        _report(item, phase)
        return result

    return hook


pytest_runtest_setup = _phase("setup")
pytest_runtest_call = _phase("call")
pytest_runtest_teardown = _phase("teardown")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _mode(config) == "off" or not GUARD.installed:
        return
    watched, called = len(GUARD.services), sum(1 for s in GUARD.services if GUARD.calls.get(s))
    calls = sum(GUARD.calls.values())
    terminalreporter.write_sep(
        "-",
        f"audit guard: {watched} service functions watched, {called} called "
        f"({calls} outermost calls), {len(GUARD.all_violations)} unaudited writes",
    )
    if _mode(config) == "report":
        seen: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for v in GUARD.all_violations:
            seen.setdefault((v.service, v.tables), []).append(v.where)
        for (service, tables), where in sorted(seen.items()):
            terminalreporter.write_line(
                f"  UNAUDITED {service} -> {', '.join(tables)} ({len(where)}x, e.g. {where[0]})"
            )
        for service in sorted(s for s in GUARD.services if not GUARD.calls.get(s)):
            terminalreporter.write_line(f"  never called: {service}")
