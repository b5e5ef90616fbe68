"""Reading the files a user names: regular files only (a FIFO would wait for ever, a device such as
/dev/zero never ends), at most a given size, checked before and while reading. :func:`read_bounded`
does the reading; :func:`read_small` answers for side files (manifests, charlists, model cards, key
files) in one line; ``hwocr.imageio`` answers for images."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import HwocrError


class NotRegularFile(OSError):
    """A device, a FIFO or a socket."""


class TooLarge(OSError):
    def __init__(self, size: int | None) -> None:
        super().__init__(f"over the size limit ({size} bytes)" if size is not None else "over the size limit")
        self.size = size


def regular_size(path: str | os.PathLike) -> int | None:
    """The size of ``path`` when it is a regular file (links followed), else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # (ValueError: a NUL byte in the path)
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def read_bounded(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``. Raises FileNotFoundError,
    IsADirectoryError, :class:`NotRegularFile`, :class:`TooLarge` (also when it grows while read) or
    another OSError."""
    try:
        st = os.stat(path)
    except ValueError as e:  # a NUL byte in the path
        raise OSError(str(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(path))
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(str(path))
    if st.st_size > max_bytes:
        raise TooLarge(st.st_size)
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(None)
    return data


def read_small(path: str | os.PathLike, what: str, max_bytes: int, error: type[HwocrError] = HwocrError) -> bytes:
    """The bytes of ``path``, or ``error`` in one line naming it as ``what``."""
    p = Path(path)
    try:
        return read_bounded(p, max_bytes)
    except FileNotFoundError:
        raise error(f"{p}: cannot read {what} (no such file)") from None
    except (IsADirectoryError, NotRegularFile):
        raise error(f"{p}: {what} is not a regular file") from None
    except TooLarge as e:
        size = f" is {e.size / 2**20:.1f} MB," if e.size is not None else ""
        raise error(f"{p}: {what}{size} over the {max_bytes / 2**20:g} MB limit") from None
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or e})") from None


#: control characters (C0, DEL) -> how a one-line output shows them
_SHOWN = {**{c: f"\\x{c:02x}" for c in range(32)}, 0x7F: "\\x7f", 0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def shown(name: str) -> str:
    """``name`` (a file path) as one line can show it: a TAB, a newline or another control character
    in it is written as ``\\t``, ``\\n``, ``\\xNN``, so a file name cannot split a TSV row, a page
    header or an error line in two."""
    return name.translate(_SHOWN)
