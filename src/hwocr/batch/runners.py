"""Where pages are read: a Dask cluster (:mod:`hwocr.batch.cluster`) or, without it, local processes.

A runner turns a stream of work items into a stream of records, in completion order, with at most
``in_flight`` pages submitted and not yet returned (back-pressure: memory stays bounded however long
the input). A page whose worker keeps dying is recorded as failed; a model that cannot be loaded
stops the job (it is the user's setup, not the page)."""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Iterator, Protocol

from ..errors import HwocrError
from .inputs import WorkItem
from .settings import Settings
from .work import failure, init_process, process_ready, read_in_process

#: a page is given up (recorded as failed) after its worker died this many times while reading it
MAX_TRIES = 3

RUNNERS = ("auto", "dask", "local")


class Runner(Protocol):
    description: str
    workers: int

    def imap(self, items: Iterable[WorkItem]) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


def have_dask() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def open_runner(kind: str, settings: Settings, workers: int, address: str | None = None,
                in_flight: int | None = None) -> Runner:
    """``kind``: dask, local, or auto (dask when installed, else local processes)."""
    if kind not in RUNNERS:
        raise HwocrError(f"unknown runner {kind!r} (expected one of: {', '.join(RUNNERS)})")
    if kind == "auto":
        kind = "dask" if have_dask() or address else "local"
    if kind == "dask":
        if not have_dask():
            raise HwocrError("the cluster runner needs Dask distributed: pip install 'hwocr[cluster]'")
        from .cluster import DaskRunner

        return DaskRunner(settings, workers, address, in_flight)
    if address:
        raise HwocrError("--address needs the dask runner")
    return LocalRunner(settings, workers, in_flight)


class LocalRunner:
    """Pages read by ``workers`` local processes (concurrent.futures), each with its own models."""

    def __init__(self, settings: Settings, workers: int, in_flight: int | None = None) -> None:
        self.settings = settings
        self.workers = max(1, workers)
        self.window = max(1, in_flight or 2 * self.workers)
        self.description = f"{self.workers} local process{'es' if self.workers > 1 else ''}"
        self._pool = self._new_pool()
        try:  # start every process and load its models now: a model that cannot load stops the job here
            for fut in [self._pool.submit(process_ready) for _ in range(self.workers)]:
                fut.result()
        except BaseException:
            self.close()
            raise

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=init_process,
                                   initargs=(self.settings,))

    def imap(self, items: Iterable[WorkItem]) -> Iterator[dict[str, Any]]:
        it = iter(items)
        retry: deque[WorkItem] = deque()
        pending: dict[Any, WorkItem] = {}
        tries: dict[str, int] = {}

        def fill() -> None:
            # a page that was in flight when a worker died is read again alone, once the pages before
            # it are done: the pool's death is then its own. Read again beside the others, the page
            # that killed it took every page in flight with it each time, and those were recorded as
            # failed after MAX_TRIES (for good: a rerun skips failed pages)
            while len(pending) < self.window:
                if retry and pending:
                    return
                item = retry.popleft() if retry else next(it, None)
                if item is None:
                    return
                pending[self._pool.submit(read_in_process, item)] = item
                if item.key in tries:
                    return

        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            lost: list[WorkItem] = []
            for fut in done:
                item = pending.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    lost.append(item)
            if lost:  # every page in flight is lost with the pool: start a new one and read them again
                lost.extend(pending.values())
                pending.clear()
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = self._new_pool()
                for item in lost:
                    tries[item.key] = tries.get(item.key, 0) + 1
                    if tries[item.key] >= MAX_TRIES:
                        yield failure(item, f"{item.path}: the worker process died {MAX_TRIES} times while "
                                            f"reading page {item.page + 1}")
                    else:
                        retry.append(item)
            fill()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
