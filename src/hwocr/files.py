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


#: control characters (C0, DEL, C1: U+0085 ends a line, U+009B starts a terminal escape) and the Unicode
#: line and paragraph separators -> how a one-line output shows them
_SHOWN = {**{c: f"\\x{c:02x}" for c in (*range(32), *range(0x7F, 0xA0))}, 0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r",
          0x2028: "\\u2028", 0x2029: "\\u2029"}


def shown(name: str) -> str:
    """``name`` (a file path) as one line can show it: a TAB, a newline, another control character or a
    line separator in it is written as ``\\t``, ``\\n``, ``\\xNN``, ``\\u2028``, so a file name cannot split a
    TSV row, a page header or an error line in two, nor send a terminal an escape."""
    return name.translate(_SHOWN)


#: a ``**`` pattern walks at most this many folder entries (a pattern over a whole disk is refused
#: in one line rather than read for hours)
MAX_GLOB_ENTRIES = 1_000_000


def glob_files(pattern: str) -> list[str]:
    """The regular files that the shell-style ``pattern`` matches, sorted. ``**`` matches any number of
    folders (none included) without following links to folders: Python's own ``glob`` follows them, so a
    folder holding two links to itself made ``'dir/**/*.png'`` walk an exponential tree (hung for good).
    Names starting with a dot match only a pattern part that starts with one, as in ``glob``. Raises
    HwocrError past :data:`MAX_GLOB_ENTRIES` entries walked."""
    import glob as globmod

    if "**" not in pattern:
        return sorted(f for f in globmod.glob(pattern) if os.path.isfile(f))
    parts = pattern.split(os.sep)
    k = next(i for i, p in enumerate(parts) if globmod.has_magic(p))
    base = os.sep.join(parts[:k]) or ("/" if pattern.startswith(os.sep) else ".")
    rest = [p for p in parts[k:] if p]
    out, seen = [], 0
    for root, dirs, files in os.walk(base):  # followlinks=False: a linked folder is not entered
        seen += len(dirs) + len(files)
        if seen > MAX_GLOB_ENTRIES:
            raise HwocrError(f"{shown(pattern)[:60]}: the pattern walks over {MAX_GLOB_ENTRIES} files and folders; "
                             "give a narrower one")
        rel = [] if root == base else os.path.relpath(root, base).split(os.sep)
        for f in files:
            path = os.path.join(root, f)
            if _match(rel + [f], rest) and os.path.isfile(path):
                out.append(os.path.relpath(path) if not k else path)  # ("./x" as glob names it: "x")
    return sorted(out)


def _match(names: list[str], parts: list[str]) -> bool:
    """Do the path components ``names`` match the pattern components ``parts`` (``**``: any number)?"""
    import fnmatch

    if not parts:
        return not names
    head, tail = parts[0], parts[1:]
    if head == "**":
        return any(_match(names[i:], tail) for i in range(len(names) + 1)
                   if all(not n.startswith(".") for n in names[:i]))
    if not names:
        return False
    n = names[0]
    if n.startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(n, head) and _match(names[1:], tail)
