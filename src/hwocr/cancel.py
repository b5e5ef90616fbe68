"""Cooperative cancellation: a caller (the server, on a timeout) cancels a :class:`Token`, and the
work running under it stops at its next check, between batches, windows and lines.

>>> token = Token()
>>> with running_under(token):
...     reader.read(...)      # raises Cancelled soon after token.cancel() from another thread

The token lives in a context variable, so it belongs to the thread (or task) that set it; code that
runs with no token never stops.
"""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager
from typing import Iterator

from .errors import HwocrError

_current: contextvars.ContextVar["Token | None"] = contextvars.ContextVar("hwocr_cancel_token", default=None)


class Cancelled(HwocrError):
    """The work was cancelled (e.g. its request timed out)."""


class Token:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@contextmanager
def running_under(token: Token) -> Iterator[Token]:
    """Run the block with ``token`` as the current token (checked by :func:`check`)."""
    reset = _current.set(token)
    try:
        yield token
    finally:
        _current.reset(reset)


def check() -> None:
    """Raise :class:`Cancelled` if the current token (if any) was cancelled."""
    token = _current.get()
    if token is not None and token.cancelled:
        raise Cancelled(token.reason)
