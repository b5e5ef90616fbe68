"""JSON text that is always valid UTF-8: a file name that is not UTF-8 (a Shift-JIS archive's, read by
Python as lone surrogates, PEP 383) is written as JSON ``\\udcXX`` escapes, which read back to the same
name (``os.fsencode`` gives its bytes), instead of bytes no JSON reader takes or an encoding error."""

from __future__ import annotations

import json
from typing import Any


def dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, **kw)`` with lone surrogates escaped (the only characters
    UTF-8 cannot encode; they can only occur inside JSON strings, where ``\\uXXXX`` is their escape)."""
    s = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


__all__ = ["dumps"]
