"""The worker's side: one page -> its record. Each worker process loads the models once
(:class:`PageReader`) and keeps them for every page it is given."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from ..errors import HwocrError, ImageError
from ..pages.inputs import pages_text
from .inputs import MAX_PAGES, WorkItem
from .settings import Settings


def failure(item: WorkItem, reason: str, seconds: float = 0.0) -> dict[str, Any]:
    """The record of a page that could not be read: its one-line ``reason`` in ``error`` (prefixed with
    the file when the reason does not name it)."""
    def one_line(t: str) -> str:  # (a file name may hold a line break)
        return t.replace("\r", "\\r").replace("\n", "\\n")

    reason = one_line(reason)[:500] if reason else "failed"
    if one_line(item.path) not in reason:
        reason = f"{one_line(item.path)}: {reason}"
    return {"key": item.key, "file": item.path, "page": item.page, "pages": item.pages, "source": item.path,
            "error": reason, "seconds": round(seconds, 4)}


@dataclass
class PageReader:
    """A worker's models (recogniser and detector), loaded once."""

    settings: Settings
    reader: Any
    detector: Any
    #: the PDF renderer (a child process) kept for every PDF page this worker reads
    pdf: Any = None

    @classmethod
    def load(cls, settings: Settings) -> "PageReader":
        from ..pages.pdfrender import PdfRenderer

        reader = settings.make_reader()
        return cls(settings, reader, reader.detector(settings.detector), PdfRenderer())

    def read(self, item: WorkItem) -> dict[str, Any]:
        """The ``hwocr page --format json`` record of the page plus key, file, page count, timing and
        error (None); a page that cannot be read gives :func:`failure` (never an exception)."""
        from ..pages.document import read_image
        from ..pages.inputs import load_pages

        s = self.settings
        t0 = time.perf_counter()
        try:
            if item.pages > MAX_PAGES:
                raise ImageError(f"{item.path}: has {pages_text(item.pages)}, over the limit of {MAX_PAGES} per document")
            (p,) = load_pages(item.path, dpi=s.dpi, max_pixels=self.reader.max_pixels, pages=[item.page],
                              renderer=self.pdf)
            res = read_image(self.reader, p.rgb, detector=self.detector, direction=s.direction, source=p.name,
                             page=p.index, vertical=s.vertical)
        except HwocrError as e:
            return failure(item, str(e), time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - a hostile file must not stop the job: record it and go on
            return failure(item, f"{item.path}: internal error ({type(e).__name__}: {e})", time.perf_counter() - t0)
        return {"key": item.key, "file": item.path, "pages": item.pages, **res.to_dict(), "error": None,
                "seconds": round(time.perf_counter() - t0, 4), "worker": f"{socket.gethostname()}:{os.getpid()}"}


# -- local processes (concurrent.futures): the process's own reader, set by its initializer --------
_PROCESS_READER: PageReader | HwocrError | None = None


def init_process(settings: Settings) -> None:
    global _PROCESS_READER
    try:
        _PROCESS_READER = PageReader.load(settings)
    except HwocrError as e:  # raised again by every read: the driver stops the job with it
        _PROCESS_READER = e


def process_ready() -> int:
    """This process's id, once its models are loaded (raises HwocrError when they could not be)."""
    if not isinstance(_PROCESS_READER, PageReader):
        raise _PROCESS_READER or HwocrError("the worker process has no models")
    return os.getpid()


def read_in_process(item: WorkItem) -> dict[str, Any]:
    """Raises HwocrError only when this process could not load its models."""
    if not isinstance(_PROCESS_READER, PageReader):
        raise _PROCESS_READER or HwocrError("the worker process has no models")
    return _PROCESS_READER.read(item)
