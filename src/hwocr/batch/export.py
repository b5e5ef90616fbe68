"""Per-document outputs of a batch job: hOCR and searchable PDF (via :mod:`hwocr.pages.export`) for
each document whose pages all read, written into ``OUT/docs`` atomically, once per document version
(the name carries the first page's key, which names the file's content and the settings)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import HwocrError
from ..pages.document import PageChar, PageLine, PageResult
from .settings import Settings
from .store import Store, write_atomic


def page_from_record(r: dict[str, Any]) -> PageResult:
    """The PageResult a record was made from (polygons at the record's 0.1 px)."""
    def poly(p) -> tuple[tuple[float, float], ...]:
        return tuple((float(x), float(y)) for x, y in p)

    lines = tuple(
        PageLine(ln["text"], ln["confidence"], poly(ln["polygon"]), ln["direction"],
                 tuple(PageChar(c["char"], c["confidence"], poly(c["polygon"])) for c in ln["chars"]),
                 ln["block"], ln["detection_score"], tuple(ln["notes"]))
        for ln in r["lines"])
    return PageResult(r["width"], r["height"], lines, r["source"], r["page"], r["engine"], r["detector"],
                      r["direction"], tuple(r["notes"]))


def documents(store: Store, keys: set[str]) -> dict[str, list[dict[str, Any]]]:
    """file -> its records in page order, for the files whose every page (among ``keys``) read."""
    by_file: dict[str, dict[int, dict[str, Any]]] = {}
    for r in store.records():
        if r["key"] in keys:
            by_file.setdefault(r["file"], {})[r["page"]] = r
    out = {}
    for f, pages in by_file.items():
        recs = [pages[i] for i in sorted(pages)]
        if all(r["error"] is None for r in recs) and len(recs) == recs[0]["pages"]:
            out[f] = recs
    return out


def doc_name(file: str, first_key: str) -> str:
    tag = hashlib.sha256(os.path.abspath(file).encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{Path(file).stem}-{tag}{first_key[:6]}"


def export_documents(store: Store, keys: Iterable[str], settings: Settings, formats: Iterable[str]) -> int:
    """Write the missing ``formats`` ("hocr", "pdf") of each complete document; returns how many files."""
    from ..pages import export
    from ..pages.inputs import iter_pages
    from ..pages.pdfwrite import encode_page

    formats = tuple(formats)
    docs_dir = store.out / "docs"
    docs_dir.mkdir(exist_ok=True)
    written = 0
    for file, recs in sorted(documents(store, set(keys)).items()):
        name = doc_name(file, recs[0]["key"])
        pages = [page_from_record(r) for r in recs]
        for fmt in formats:
            dest = docs_dir / f"{name}.{fmt}"
            if dest.exists():
                continue
            if fmt == "hocr":
                data = export.to_hocr(pages, settings.lang).encode("utf-8")
            else:
                try:  # each page decoded, compressed and dropped in turn: one page's pixels at a time
                    images = [encode_page(p.rgb) for p in iter_pages(file, dpi=settings.dpi)]
                    data = export.to_pdf(pages, images, settings.dpi)
                except HwocrError:
                    continue  # the file changed or went away since it was read
            write_atomic(dest, data)
            written += 1
    return written
