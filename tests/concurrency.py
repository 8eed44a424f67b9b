"""Run a callable from several threads at once, each on its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_concurrently(fn: Callable[[], Any], *, threads: int) -> list[Any]:
    """Start `threads` threads that call `fn` at the same moment (a barrier releases them).

    Returns what each call returned or raised, in no particular order. Each thread closes its
    connections when done, so the test database can be flushed afterwards.
    """
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            outcome = fn()
        except BaseException as exc:  # noqa: BLE001  (the test inspects what was raised)
            outcome = exc
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


def run_many(fn: Callable[[], Any], *, calls: int, threads: int) -> list[Any]:
    """`calls` calls of `fn` spread over `threads` threads started together (each thread makes
    calls // threads calls back to back), for more concurrent work than the database has
    connections for. Returns what each call returned or raised."""
    per_thread, extra = divmod(calls, threads)
    counts = iter([per_thread + (1 if i < extra else 0) for i in range(threads)])
    lock = threading.Lock()

    def batch() -> list[Any]:
        with lock:
            n = next(counts)
        out = []
        for _ in range(n):
            try:
                out.append(fn())
            except BaseException as exc:  # noqa: BLE001
                out.append(exc)
        return out

    return [outcome for group in run_concurrently(batch, threads=threads) for outcome in group]
