"""Charlists (index -> character) and per-language character sets derived from Python's codecs."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Callable

from .errors import ModelError

BLANK = ""  # the CTC blank at index 0 decodes to nothing

LANGS = ("zh", "ja")


def read_charlist(path: str | Path) -> list[str]:
    """Read a charlist file (one symbol per line, UTF-8) as-is: never normalise it.

    Only the line terminator is stripped; the OMZ lists have no whitespace entries.
    A UTF-8 BOM on the first line is dropped. Empty lines are an error (they would shift indices).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{p}: charlist not found") from None
    except OSError as e:
        raise ModelError(f"{p}: cannot read charlist ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{p}: charlist is not UTF-8 text") from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = [ln.removesuffix("\r") for ln in lines]
    for i, s in enumerate(out):
        if s == "":
            raise ModelError(f"{p}: charlist line {i + 1} is empty")
    if not out:
        raise ModelError(f"{p}: charlist is empty")
    return out


def _encodes(c: str, codec: str, nbytes: int | None = None) -> bool:
    try:
        b = c.encode(codec)
    except UnicodeEncodeError:
        return False
    return nbytes is None or len(b) == nbytes


def _is_han(c: str) -> bool:
    return unicodedata.name(c, "").startswith("CJK UNIFIED IDEOGRAPH") or c == "〇"


def _is_ascii_printable(c: str) -> bool:
    return " " <= c <= "~"


def _is_fullwidth_ascii(c: str) -> bool:
    return "\uff01" <= c <= "\uff5e"


def _is_punct_symbol_digit(c: str) -> bool:
    cat = unicodedata.category(c)
    if "\u2500" <= c <= "\u257f":  # box drawing is never handwritten
        return False
    return cat[0] in ("P", "S", "N") or c in "\u3000"


def _is_latin(c: str) -> bool:
    return unicodedata.name(c, "").startswith("LATIN ")


def _zh(c: str) -> bool:
    if len(c) != 1:
        return False
    if _is_ascii_printable(c) or _is_fullwidth_ascii(c):
        return True
    if not _encodes(c, "gb2312"):
        return False
    return _is_han(c) or _is_punct_symbol_digit(c) or _is_latin(c)


def _is_kana(c: str) -> bool:
    n = unicodedata.name(c, "")
    return n.startswith(("HIRAGANA", "KATAKANA")) and not n.startswith("HALFWIDTH") or c in "ー゛゜ゝゞヽヾ々〆"


def _ja(c: str) -> bool:
    if len(c) != 1:
        return False
    if _is_ascii_printable(c) or _is_fullwidth_ascii(c):
        return True
    # JIS X 0208 = the two-byte part of Shift_JIS
    if not _encodes(c, "shift_jis", 2):
        return False
    return _is_han(c) or _is_kana(c) or _is_punct_symbol_digit(c) or _is_latin(c)


def language_filter(lang: str) -> Callable[[str], bool]:
    """Return a predicate telling whether a character belongs to ``lang`` ("zh" or "ja")."""
    if lang == "zh":
        return _zh
    if lang == "ja":
        return _ja
    raise ModelError(f"unknown language {lang!r} (expected one of: {', '.join(LANGS)})")
