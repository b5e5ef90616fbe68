"""Reading the small files a user names (manifests, charlists, model cards, key files): regular files
only (a FIFO would wait for ever, a device such as /dev/zero never ends), at most a given size,
checked before and while reading. Every refusal is one line, as ``error``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import HwocrError


def regular_size(path: str | os.PathLike) -> int | None:
    """The size of ``path`` when it is a regular file (links followed), else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # (ValueError: a NUL byte in the path)
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def read_small(path: str | os.PathLike, what: str, max_bytes: int, error: type[HwocrError] = HwocrError) -> bytes:
    """The bytes of ``path``, or ``error`` in one line naming it as ``what``."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise error(f"{p}: cannot read {what} (no such file)") from None
    except (OSError, ValueError) as e:
        raise error(f"{p}: cannot read {what} ({getattr(e, 'strerror', None) or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: {what} is not a regular file")
    if st.st_size > max_bytes:
        raise error(f"{p}: {what} is {st.st_size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit")
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: {what} is over the {max_bytes / 2**20:g} MB limit")
    return data
