"""hwocr.ahead: an iterator computed a step ahead on a worker thread."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from hwocr.ahead import ahead

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("test_ahead_var", default="unset")


def test_items_in_order_made_on_another_thread_one_step_ahead():
    made: list[int] = []
    threads: set[int] = set()

    def items():
        for i in range(6):
            threads.add(threading.get_ident())
            made.append(i)
            yield i

    it = ahead(items())
    assert next(it) == 0
    end = time.monotonic() + 5
    while len(made) < 3 and time.monotonic() < end:  # the worker makes the next ones meanwhile
        time.sleep(0.01)
    time.sleep(0.1)
    assert made == [0, 1, 2]  # one waiting (depth 1) and one made that waits to be handed over: no more
    assert list(it) == [1, 2, 3, 4, 5]
    assert threads and threading.get_ident() not in threads


def test_an_error_arrives_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise KeyError("broken")

    got = []
    with pytest.raises(KeyError, match="broken"):
        for x in ahead(items()):
            got.append(x)
    assert got == [1, 2]


def test_stopping_early_closes_the_items_on_the_worker_and_waits_for_it():
    closed: list[int] = []
    made: list[int] = []

    def items():
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.append(threading.get_ident())

    def workers() -> int:
        return sum(t.name == "hwocr-ahead" for t in threading.enumerate())

    for x in ahead(items()):
        if x == 3:
            break
    assert closed and closed[0] != threading.get_ident() and len(made) <= 6
    assert workers() == 0  # the worker has ended

    def failing_consumer():
        for x in ahead(items()):
            raise ValueError(x)

    closed.clear()
    with pytest.raises(ValueError):
        failing_consumer()
    assert len(closed) == 1 and workers() == 0


def test_the_worker_sees_the_callers_context():
    def items():
        yield VAR.get()

    token = VAR.set("the caller's")
    try:
        assert list(ahead(items())) == ["the caller's"]
    finally:
        VAR.reset(token)


def test_an_iterator_that_is_not_a_generator_and_bad_depth():
    assert list(ahead(iter(range(3)), depth=2)) == [0, 1, 2]
    assert list(ahead(iter([]))) == []
    with pytest.raises(ValueError, match="depth"):
        next(ahead(iter([1]), depth=0))
