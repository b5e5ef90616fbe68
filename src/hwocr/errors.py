"""User-facing errors: every failure a user can cause is one of these, with a one-line message."""

from __future__ import annotations


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
