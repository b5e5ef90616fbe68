"""Command-line inputs -> files -> work items (one per page).

A folder gives its page files (images and PDFs, recursively, sorted), a glob pattern its sorted matches,
``@FILE`` (or ``--manifest FILE``) the paths listed in FILE (one per line; lines starting with ``#`` are comments;
relative paths are relative to the manifest's folder); anything else is taken as a file. Each file is
hashed (SHA-256 of its bytes) and its pages counted here; each page becomes one :class:`WorkItem`
whose key names the file, its content, the page and the settings, so a rerun recognises work already
written and a changed file is read again."""

from __future__ import annotations

import glob as globmod
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import HwocrError
from ..files import glob_files
from ..pages.inputs import MAX_PAGES, frame_count  # a document with more pages is refused (bounds one input's work)

#: what a folder expands to
PAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pdf")


@dataclass(frozen=True)
class WorkItem:
    """One page to read: ``path`` as given, its 0-based ``page`` of ``pages``, and its ``key``."""

    path: str
    page: int
    pages: int
    key: str


def expand_paths(args: Iterable[str], problems: list[str], manifests: Iterable[str] = (),
                 exclude: str | None = None) -> Iterator[str]:
    """File paths from ``args`` (files, folders, globs, ``@manifest``) and manifest files, in order.
    Files under ``exclude`` (the job's output folder, whose exported PDFs a rerun would read again)
    are left out. A folder or pattern that gives nothing, or a manifest that cannot be read, adds one
    line to ``problems`` and the rest is still read."""
    if exclude is not None:
        yield from (f for f in expand_paths(args, problems, manifests) if not _under(f, exclude))
        return
    problem = problems.append
    for m in manifests:
        yield from _openable(_manifest(m, problem), problem)
    for a in args:
        if a.startswith("@") and len(a) > 1:
            yield from _openable(_manifest(a[1:], problem), problem)
            continue
        p = Path(a)
        if len(os.fsencode(a)) >= MAX_PATH_BYTES:
            problem(_too_long(a))
        elif not a:  # Path("") is the current folder: an unset shell variable must not read it
            problem("an empty file name")
        elif p.is_dir():
            found = _folder_pages(p, a, problem)
            if not found:
                problem(f"{a}: no page files in this folder ({', '.join(PAGE_EXTS)})")
            yield from found
        elif not p.exists() and globmod.has_magic(a):
            found = glob_files(a)
            if not found:
                problem(f"{a}: no files match this pattern")
            yield from found
        else:
            yield a


def _folder_pages(p: Path, a: str, problem: Callable[[str], None]) -> list[str]:
    """The page files under folder ``p``, sorted. A page name that is not a regular file (a FIFO, a
    device, a broken or looping link) is left out with one line in ``problems``, not silently."""
    from ..files import shown

    found, odd = [], []
    for f in p.rglob("*"):
        if f.suffix.lower() not in PAGE_EXTS:
            continue
        try:
            regular = f.is_file()
        except OSError:  # a name the system refuses to look up (too long, a loop on some systems)
            regular = False
        (found if regular else odd).append(str(f))
    if odd:
        odd.sort()
        more = f" and {len(odd) - 1} more" if len(odd) > 1 else ""
        problem(f"{shown(odd[0])}{more}: not a regular file (a FIFO, a device, or a broken or looping link) "
                f"in {shown(a)}: left out")
    return sorted(found)


#: the longest path the system opens (Linux PATH_MAX, with its NUL): a manifest line of 25 MB became a
#: record of 75 MB (file, source and error), past what a shard is read back with, which broke the
#: job's exports for good
MAX_PATH_BYTES = 4096


def _too_long(path: str) -> str:
    from ..files import shown

    return f"{shown(path[:80])}...: a path of {len(os.fsencode(path))} bytes, longer than any file can be named"


def _openable(paths: Iterable[str], problem: Callable[[str], None]) -> Iterator[str]:
    """``paths`` without those too long to name a file (each one line in ``problems``)."""
    for p in paths:
        if len(os.fsencode(p)) >= MAX_PATH_BYTES:
            problem(_too_long(p))
        else:
            yield p


def _under(path: str, folder: str) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError, ValueError):
        return False


#: the largest manifest read (millions of paths)
MAX_MANIFEST_BYTES = 256 << 20


def _manifest(path: str, problem: Callable[[str], None]) -> Iterator[str]:
    """The paths a manifest lists, one per line (``#`` comments and blank lines skipped), relative ones
    from the manifest's folder. Each line is a file name as the file system has it: bytes that are not
    UTF-8 (``find`` run over a Shift-JIS archive) name their file as ``os.fsdecode`` does, and only
    ``\n`` ends a line (a name may hold U+2028)."""
    from ..files import read_small

    try:
        data = read_small(path, "manifest", MAX_MANIFEST_BYTES).removeprefix(b"\xef\xbb\xbf")
    except HwocrError as e:
        problem(str(e))
        return
    base = Path(path).parent
    for raw in data.split(b"\n"):
        line = os.fsdecode(raw.removesuffix(b"\r")).strip()
        if line and not line.startswith("#"):
            yield line if os.path.isabs(line) else str(base / line)


def file_hash(path: str) -> str | None:
    """SHA-256 of the file's bytes (None when it cannot be read: the worker reports why)."""
    from ..files import regular_size
    from ..imageio import MAX_FILE_BYTES

    size = regular_size(path)
    if size is None or size > MAX_FILE_BYTES:  # a FIFO, a device, too big: the worker says which
        return None
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def count_pages(path: str) -> int:
    """Pages of a PDF or frames of a multi-page image; 1 when the file cannot be opened (reading that
    one page then fails with the same message ``hwocr page`` gives)."""
    from ..files import regular_size
    from ..imageio import MAX_FILE_BYTES
    from ..pages.inputs import is_pdf

    size = regular_size(path)
    if size is None or size > MAX_FILE_BYTES:
        return 1
    try:
        if is_pdf(path):
            import pypdfium2 as pdfium

            doc = pdfium.PdfDocument(path)
            try:
                return max(1, len(doc))
            finally:
                doc.close()
        from ..imageio import load_pil

        with load_pil(path) as im:  # only the plugin of the format its magic bytes name
            return frame_count(im)
    except Exception:  # noqa: BLE001 - any failure here is reported by the worker that reads the page
        return 1


def item_key(path: str, digest: str | None, page: int, settings_key: str) -> str:
    ident = f"{os.path.abspath(path)}\0{digest or 'unreadable'}\0{page}\0{settings_key}"
    return hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def work_items(paths: Iterable[str], settings_key: str) -> Iterator[WorkItem]:
    """One item per page of each file, lazily (a file is hashed and counted when it is reached)."""
    for path in paths:
        digest = file_hash(path)
        n = count_pages(path) if digest is not None else 1
        if n > MAX_PAGES:  # one item, which the worker refuses (see hwocr.batch.work.read_item)
            yield WorkItem(path, 0, n, item_key(path, digest, 0, settings_key))
            continue
        for i in range(n):
            yield WorkItem(path, i, n, item_key(path, digest, i, settings_key))
