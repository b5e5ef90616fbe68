"""User-facing errors: every failure a user can cause is one of these, with a one-line message."""

from __future__ import annotations

import numbers


class HwocrError(Exception):
    """Base class. ``str(err)`` is a single line meant for the user."""


class ImageError(HwocrError):
    """An input image is missing, unreadable, or unusable."""


class InputTooLarge(ImageError):
    """An input would cost more than its limit allows (pixels, recognition windows, ...)."""


class ModelError(HwocrError):
    """A model or charlist cannot be found, loaded, or does not fit."""


class DownloadError(ModelError):
    """A model file could not be fetched or failed verification."""


def expect(name: str, value: object, types: type | tuple[type, ...], what: str,
           error: type[HwocrError] = HwocrError) -> None:
    """Refuse an argument of the wrong type with one line naming it and what it takes: left to the code
    that uses it, it was a TypeError or AttributeError from deep inside (``Reader(device=1)``: "'int'
    object has no attribute 'upper'"). A bool is no number here."""
    kinds = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise error(f"{name}: expected {what}, got {type(value).__name__}")


def expect_whole(name: str, value: object, lo: int, error: type[HwocrError] = HwocrError) -> None:
    """A count or size argument: a whole number (a numpy one too, not a bool) of at least ``lo``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise error(f"{name} must be a whole number >= {lo}, got {value!r:.40}")
