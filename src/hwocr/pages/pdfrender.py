"""Render PDF pages in a child process whose memory and time are bounded.

A PDF page is a program: a few kilobytes of nested form objects can ask PDFium for billions of fills
and gigabytes of memory, in one C call that no timeout in this process can stop. Pages are therefore
drawn by a child process (``python -m hwocr.pages.pdfrender``, one per document, importing only
pypdfium2) under an address-space limit; a page that needs more memory or more time than allowed
ends the child and is answered with one ImageError, and this process (a CLI run, a server) goes on.

Protocol on the child's stdin / stdout, one request per line: ``D SIZE`` followed by SIZE bytes opens
a document (no answer); ``R INDEX SCALE`` renders a page of it, answered with a JSON line (``{"w", "h",
"stride", "n", "mode"}`` followed by ``stride * h`` bytes of pixels, or ``{"error"}``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time

import numpy as np

from .. import cancel
from ..errors import ImageError

#: address space of the rendering process (a 64 MP page needs about 0.3 GB as pixels)
MAX_RENDER_BYTES = 2 << 30
#: seconds one page may take to render
RENDER_TIMEOUT_S = 60.0
#: while a page renders, the caller's cancellation (a server request's time limit, its client gone) is
#: looked at this often; a cancelled render ends the child at once
CANCEL_POLL_S = 0.1


class PdfRenderer:
    """Renders pages of PDFs in a bounded child process; use as a context manager. One renderer serves
    any number of documents (a batch worker keeps its child), one page at a time (thread-safe)."""

    def __init__(self, max_bytes: int = MAX_RENDER_BYTES, timeout_s: float = RENDER_TIMEOUT_S) -> None:
        self._max, self._timeout = max_bytes, timeout_s
        self._proc: subprocess.Popen | None = None
        self._sent: bytes | None = None  # the document the child has open
        self._lock = threading.Lock()

    def __enter__(self) -> "PdfRenderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, data: bytes, i: int, scale: float, label: str) -> np.ndarray:
        """Page ``i`` (0-based) of the PDF ``data`` at ``scale`` as an H x W x 3 RGB array, or a
        one-line ImageError."""
        with self._lock:
            return self._render(data, i, scale, label)

    def _render(self, data: bytes, i: int, scale: float, label: str) -> np.ndarray:
        try:
            if self._proc is None:
                self._proc = subprocess.Popen([sys.executable, "-m", __name__, str(self._max)], stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if self._sent is None or (self._sent is not data and self._sent != data):
                self._proc.stdin.write(b"D %d\n" % len(data) + data)
                self._sent = data
            self._proc.stdin.write(f"R {i} {scale!r}\n".encode("ascii"))
            self._proc.stdin.flush()
            deadline = time.monotonic() + self._timeout
            head = json.loads(self._read_line(deadline))
            if "error" in head:
                raise ImageError(f"{label}: cannot render the page (corrupt PDF: {head['error']})")
            w, h, stride, n = (int(head[k]) for k in ("w", "h", "stride", "n"))
            buf = self._read(stride * h, deadline)
        except TimeoutError:
            self._close()
            raise ImageError(f"{label}: the page takes more than {self._timeout:g} s to render (refused)") from None
        except cancel.Cancelled:  # the caller gave up (a request's time limit): the child's work is waste
            self._close(kill=True)
            raise
        except (EOFError, OSError, ValueError):  # the child ended: out of memory (PDFium aborts) or crashed
            self._close()
            raise ImageError(f"{label}: the page cannot be rendered within {self._max >> 20} MB (refused)") from None
        px = np.frombuffer(buf, np.uint8).reshape(h, stride)[:, : w * n].reshape(h, w, n)
        if n == 1:
            return np.ascontiguousarray(np.repeat(px, 3, axis=2))
        return np.ascontiguousarray(px[:, :, 2::-1] if str(head.get("mode", "")).startswith("BGR") else px[:, :, :3])

    def _wait(self, deadline: float) -> None:
        """Until the child has output: TimeoutError past ``deadline``, Cancelled once the caller's
        token (:mod:`hwocr.cancel`) is."""
        while True:
            cancel.check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if select.select([self._proc.stdout], [], [], min(left, CANCEL_POLL_S))[0]:
                return

    def _read_line(self, deadline: float) -> bytes:
        out = b""
        while not out.endswith(b"\n"):
            self._wait(deadline)
            c = os.read(self._proc.stdout.fileno(), 1)
            if not c:
                raise EOFError
            out += c
        return out

    def _read(self, n: int, deadline: float) -> bytes:
        parts, got = [], 0
        fd = self._proc.stdout.fileno()
        while got < n:
            self._wait(deadline)
            b = os.read(fd, min(n - got, 1 << 20))
            if not b:
                raise EOFError
            parts.append(b)
            got += len(b)
        return b"".join(parts)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self, kill: bool = False) -> None:
        if self._proc is None:
            return
        proc, self._proc, self._sent = self._proc, None, None
        try:
            if kill:
                proc.kill()
            proc.stdin.close()
            proc.wait(1.0)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _child(limit: int) -> None:
    """The child: open the documents and render the pages asked for, until stdin closes."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import pypdfium2 as pdfium

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    doc = None
    for line in inp:
        cmd, *args = line.split()
        if cmd == b"D":  # a new document: its size, then its bytes (no answer: a failure shows at render)
            data = inp.read(int(args[0]))
            if doc is not None:
                doc.close()
            try:
                doc = pdfium.PdfDocument(data)
            except MemoryError:
                return
            except Exception:  # noqa: BLE001
                doc = None
            continue
        try:
            if doc is None:
                raise ValueError("cannot open the document")
            bmp = doc[int(args[0])].render(scale=float(args[1]), rev_byteorder=True)
            head = {"w": bmp.width, "h": bmp.height, "stride": bmp.stride, "n": bmp.n_channels, "mode": bmp.mode}
            out.write(json.dumps(head).encode() + b"\n" + bytes(bmp.buffer))
        except MemoryError:
            return  # the parent reads the end of the stream: over the memory limit
        except Exception as e:  # noqa: BLE001 - PdfiumError and the like: reported as one line
            msg = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            out.write(json.dumps({"error": msg}).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    _child(int(sys.argv[1]))
