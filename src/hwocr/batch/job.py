"""One batch job: inputs -> work items not done yet -> a runner -> committed shards -> a summary."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .inputs import WorkItem, expand_paths, work_items
from .settings import Settings
from .store import Store
from .summary import Summary

#: failures listed in the summary (all are in the records)
MAX_LISTED = 20


@dataclass(frozen=True)
class Commit:
    """When the driver writes a shard: after ``records`` records or ``seconds`` seconds, whichever
    comes first (a killed driver loses what it has received and not yet committed, read again on
    the next run)."""

    records: int = 256
    seconds: float = 5.0


def run_job(inputs: Iterable[str], out: str, settings: Settings, runner_factory: Callable[[], object], *,
            manifests: Iterable[str] = (), commit: Commit = Commit(), exports: Iterable[str] = (),
            progress: Callable[[int, int], None] | None = None, retry_failed: bool = False) -> Summary:
    """Read every page of ``inputs`` not already in ``out`` (with ``retry_failed``, the pages recorded as
    failed too). ``runner_factory`` opens the runner (only when there is work); ``progress(done,
    total_known)`` is called as pages complete; ``exports`` ("hocr", "pdf") are then written for each
    document whose pages all read."""
    t0 = time.perf_counter()
    with Store(out) as store:
        skey = settings.key()
        stats = {"pages": 0, "skipped": 0}
        seen: set[str] = set()
        problems: list[str] = []

        def todo() -> Iterator[WorkItem]:
            for item in work_items(expand_paths(inputs, problems, manifests, exclude=out), skey):
                if item.key in seen:
                    continue
                seen.add(item.key)
                stats["pages"] += 1
                if item.key in store.done and not (retry_failed and store.retry(item.key)):
                    stats["skipped"] += 1
                    continue
                yield item

        pending = todo()
        first = next(pending, None)
        summary = Summary(str(out), "nothing (no work)", 0)
        if first is not None:
            runner = runner_factory()
            summary.runner, summary.workers = runner.description, runner.workers
            t0 = time.perf_counter()
            try:
                _drain(runner.imap(_chain(first, pending)), store, summary, commit, progress, stats)
            finally:
                runner.close()
        summary.pages, summary.skipped = stats["pages"], stats["skipped"]
        summary.input_errors = problems
        summary.seconds = time.perf_counter() - t0
        summary.failed_total = sum(1 for k in seen if store.done.get(k) is False)
        if exports:
            from .export import export_documents

            export_documents(store, seen, settings, exports)
    return summary


def _chain(first: WorkItem, rest: Iterator[WorkItem]) -> Iterator[WorkItem]:
    yield first
    yield from rest


def _drain(records, store: Store, summary: Summary, commit: Commit, progress, stats) -> None:
    buf: list[dict] = []
    last = time.monotonic()
    try:
        for rec in records:
            buf.append(rec)
            summary.read += 1
            if rec.get("error"):
                summary.failed += 1
                if len(summary.failures) < MAX_LISTED:
                    summary.failures.append({"file": rec["file"], "page": rec["page"], "error": rec["error"]})
            else:
                summary.lines += len(rec.get("lines", ()))
            if progress:
                progress(summary.read + stats["skipped"], stats["pages"])
            if len(buf) >= commit.records or time.monotonic() - last >= commit.seconds:
                store.commit(buf)
                buf, last = [], time.monotonic()
    finally:
        store.commit(buf)  # also on Ctrl-C: what was received is kept
