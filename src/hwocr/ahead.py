"""An iterator computed one step ahead on a worker thread, so that producing the next item (the model
reading the next batch: native code, which releases the GIL) overlaps with what the caller does with
this one (decoding it: Python).

>>> for k, out in ahead(run_batches(...)):
...     decode(out)       # the next batch is being inferred meanwhile

Nothing here is global: each call starts its own thread on first use and ends it when the iteration
ends, however it ends.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")

_END = object()
_POLL_S = 0.05  # how often a worker waiting to hand over an item checks whether the caller stopped


def ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items`` in order, each computed on a worker thread while the caller works on the ones before
    it: at most ``depth`` finished items wait, and one more is being made.

    The worker runs in a copy of the caller's context, so it sees the caller's cancellation token
    (:mod:`hwocr.cancel`). An exception that ``items`` raises reaches the caller where it would have
    without the thread, after the items before it. When the caller stops early (``break``, its own
    exception, ``close()``), the worker stops after the item it is making and closes ``items`` on its
    own thread (its ``finally`` blocks run there); the caller waits for that, so no work outlives the
    iteration. Shared state that ``items`` writes and the caller reads must be written before the item
    that it belongs to is yielded (the hand-over orders them)."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not hand_over((item, None)):
                    return
            hand_over((_END, None))
        except BaseException as e:  # noqa: BLE001 - handed to the caller, which raises it
            hand_over((_END, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=contextvars.copy_context().run, args=(work,), name="hwocr-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join()
