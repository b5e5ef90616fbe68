"""Per-document outputs of a batch job: hOCR and searchable PDF (via :mod:`hwocr.pages.export`) for
each document whose pages all read, written into ``OUT/docs`` atomically, once per document version
(the name carries the first page's key, which names the file's content and the settings)."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import HwocrError
from ..pages.document import PageChar, PageLine, PageResult
from .settings import Settings
from .store import Store, _corrupt, atomic_file, write_atomic


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{repr(v)[:40]} is not a whole number")
    return v


def _real(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{repr(v)[:40]} is not a finite number")
    return float(v)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{repr(v)[:40]} is not a string")
    return v


def _record_error(store: Store, r: dict[str, Any], e: Exception) -> HwocrError:
    """A record that a hand edit or another program left without a field the export needs, or with a
    wrong one (it stopped the export with a KeyError traceback; a string as the page's width went
    into the hOCR as markup)."""
    why = f"no {e}" if isinstance(e, KeyError) else str(e)
    return _corrupt(store.out, f"the record {str(r.get('key'))[:40]!r} is not a page record: {why}")


def page_from_record(r: dict[str, Any]) -> PageResult:
    """The PageResult a record was made from (polygons at the record's 0.1 px). Raises KeyError,
    TypeError or ValueError for a record that is not one (each number and string is checked: the
    hOCR and PDF writers put them into markup)."""
    def poly(p) -> tuple[tuple[float, float], ...]:
        return tuple((_real(x), _real(y)) for x, y in p)

    def direction(v: Any) -> str:
        if v not in ("horizontal", "vertical"):
            raise ValueError(f"{repr(v)[:40]} is not a line direction")
        return v

    lines = tuple(
        PageLine(_str(ln["text"]), _real(ln["confidence"]), poly(ln["polygon"]), direction(ln["direction"]),
                 tuple(PageChar(_str(c["char"]), _real(c["confidence"]), poly(c["polygon"])) for c in ln["chars"]),
                 _int(ln["block"]), _real(ln["detection_score"]), tuple(map(_str, ln["notes"])))
        for ln in r["lines"])
    return PageResult(_int(r["width"]), _int(r["height"]), lines, _str(r["source"]), _int(r["page"]),
                      _str(r["engine"]), _str(r["detector"]), _str(r["direction"]), tuple(map(_str, r["notes"])))


def documents(store: Store, keys: set[str]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(file, its records in page order) for each file whose every page (among ``keys``) read, handed
    out as soon as its last page's record is read: only the documents whose pages are still coming are
    held (all the job's records were, a record of some kilobytes a page, to the end of a long run)."""
    by_file: dict[str, dict[int, dict[str, Any]]] = {}
    failed: set[str] = set()
    for r in store.records():
        if r["key"] not in keys:
            continue
        try:
            if r["error"] is not None:
                _str(r["error"])
            n, file, page = _int(r["pages"]), _str(r["file"]), _int(r["page"])
        except (KeyError, TypeError, ValueError) as e:
            raise _record_error(store, r, e) from None
        if file in failed or r["error"] is not None and store.done.get(r["key"]):
            continue  # (a failed page read again by --retry-failed: its last record counts)
        if r["error"] is not None:  # the document cannot be exported: drop what it holds
            failed.add(file)
            by_file.pop(file, None)
            continue
        pages = by_file.setdefault(file, {})
        pages[page] = r
        if len(pages) == n:
            del by_file[file]
            yield file, [pages[i] for i in sorted(pages)]


#: bytes of the file's stem kept in a document's name: the name, its tag, the longest extension and
#: write_atomic's ``.NAME.tmp`` must fit in NAME_MAX (255); an 80-character CJK name (240 bytes, a legal
#: file) gave a docs name too long to create, which failed the export of it and of every file after it
MAX_STEM_BYTES = 200


def _short_stem(stem: str) -> str:
    """``stem`` cut at a character to at most MAX_STEM_BYTES as the file system encodes it."""
    stem = stem[:MAX_STEM_BYTES]
    while len(os.fsencode(stem)) > MAX_STEM_BYTES:
        stem = stem[:-1]
    return stem


def doc_name(file: str, first_key: str) -> str:
    tag = hashlib.sha256(os.path.abspath(file).encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{_short_stem(Path(file).stem)}-{tag}{first_key[:6]}"


def _unchanged(file: str, first: dict[str, Any], settings: Settings) -> bool:
    """Whether ``file`` still holds the bytes its records were read from (the first page's key names
    its content): a scan replaced while a long job ran was put into the PDF under another's text."""
    from .inputs import file_hash, item_key

    return item_key(file, file_hash(file), 0, settings.key()) == first["key"]


def export_documents(store: Store, keys: Iterable[str], settings: Settings, formats: Iterable[str]) -> int:
    """Write the missing ``formats`` ("hocr", "pdf") of each complete document; returns how many files."""
    from ..pages import export
    from ..pages.inputs import iter_pages
    from ..pages.pdfwrite import encode_page

    formats = tuple(formats)
    docs_dir = store.out / "docs"
    docs_dir.mkdir(exist_ok=True)
    written = 0
    for file, recs in documents(store, set(keys)):
        name = doc_name(file, recs[0]["key"])
        pages = []
        for r in recs:
            try:
                pages.append(page_from_record(r))
            except (KeyError, TypeError, ValueError) as e:
                raise _record_error(store, r, e) from None
        for fmt in formats:
            dest = docs_dir / f"{name}.{fmt}"
            if dest.exists():
                continue
            if fmt == "hocr":
                write_atomic(dest, export.to_hocr(pages, settings.lang).encode("utf-8"))
            else:
                if not _unchanged(file, recs[0], settings):
                    continue  # its pixels would not be those the text layer was read from: a rerun reads it again
                try:  # each page decoded, compressed, written and dropped in turn: one page's image at a time
                    with atomic_file(dest) as f:
                        export.write_pdf(f, pages, (encode_page(p.rgb) for p in iter_pages(file, dpi=settings.dpi)),
                                         settings.dpi)
                except HwocrError:
                    continue  # the file changed or went away since it was read
            written += 1
    return written
