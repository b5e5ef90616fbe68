"""The output folder: records in JSON-lines shards, each written atomically, and the done-index.

Layout of OUT::

    pages-000001.jsonl ...   one JSON record per line; a shard is written to a temporary file,
                             fsync'ed, then renamed into place (a reader never sees half a shard)
    index/pages-000001.keys  the keys (and ok/failed) of that shard; derived data, rebuilt from the
                             shard when missing (e.g. the job was killed between the two renames)
    .lock                    held (flock) by the one job writing here

Exactly-once: the driver is the only writer, and :meth:`Store.commit` drops any record whose key is
already written or already in the same commit (a page a worker read twice, e.g. because it died after
reading but before its result was acknowledged and the engine ran the page again)."""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterable, Iterator

from ..errors import HwocrError
from ..jsontext import dumps

SHARD_RE = re.compile(r"^pages-(\d{6,})\.jsonl$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it appears whole or not at all: temp file, fsync, rename."""
    with atomic_file(path) as f:
        f.write(data)


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path`` through, in pieces, that appears whole or not at all when the block ends
    (temp file, fsync, rename); on any failure the temp file is removed (a full disk: the half-written
    copy must not keep holding the space)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


#: the longest line a shard or index holds (one page's record)
MAX_RECORD_BYTES = 64 << 20


def _corrupt(path: Path, why: str) -> HwocrError:
    return HwocrError(f"{path}: corrupt batch output ({why}); move the folder away or write to a new one")


def _lines(path: Path) -> Iterator[str]:
    """The lines of a store file, each at most MAX_RECORD_BYTES, as one-line errors when it is not
    a readable UTF-8 regular file."""
    from ..files import regular_size

    if regular_size(path) is None:
        raise _corrupt(path, "not a regular file")
    try:
        with open(path, "rb") as f:
            while line := f.readline(MAX_RECORD_BYTES + 1):
                if len(line) > MAX_RECORD_BYTES:
                    raise _corrupt(path, f"a line longer than {MAX_RECORD_BYTES >> 20} MB")
                yield line.decode("utf-8")
    except UnicodeDecodeError:
        raise _corrupt(path, "not UTF-8") from None
    except OSError as e:
        raise _corrupt(path, e.strerror or str(e)) from None


def _read_shard(shard: Path) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(_lines(shard), 1):
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            raise _corrupt(shard, f"line {n} is not a JSON record (a write cut short?)") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("key"), str):
            raise _corrupt(shard, f"line {n} is not a page record")
        yield rec


class Store:
    """The records already written to ``out`` and the way to add more (see the module doc)."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        try:
            (self.out / "index").mkdir(parents=True, exist_ok=True)
            self._lock = open(self.out / ".lock", "a+")
        except OSError as e:
            raise HwocrError(f"{out}: cannot use as output folder ({e.strerror or e})") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise HwocrError(f"{out}: another hwocr batch is writing to this folder") from None
        try:  # (a corrupt folder must not leave the lock held by this half-made Store)
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        # a commit or an export (docs/) that a killed job never finished
        for folder in (self.out, self.out / "index", self.out / "docs"):
            for stale in folder.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        self.done: dict[str, bool] = {}  # key -> read without error
        self._next = 1
        for shard in self.shards():
            self._next = max(self._next, int(SHARD_RE.match(shard.name).group(1)) + 1)
            self.done.update(self._shard_keys(shard))

    def retry(self, key: str) -> bool:
        """Whether ``key`` was recorded as failed; if so it counts as not read yet, so that it is read and
        committed again (``batch --retry-failed``: a render timeout under load is no reason to fail a page
        for good). Its new record supersedes the old one: a key's last record is its state (``done`` as
        loaded; :func:`~hwocr.batch.export.documents`)."""
        if self.done.get(key) is False:
            del self.done[key]
            return True
        return False

    def shards(self) -> list[Path]:
        return sorted(p for p in self.out.iterdir() if SHARD_RE.match(p.name))

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record written so far, shard by shard."""
        for shard in self.shards():
            yield from _read_shard(shard)

    def _shard_keys(self, shard: Path) -> dict[str, bool]:
        idx = self.out / "index" / (shard.stem + ".keys")
        if not idx.exists():
            keys = [f"{rec['key']}\t{'failed' if rec.get('error') else 'ok'}\n" for rec in _read_shard(shard)]
            write_atomic(idx, "".join(keys).encode())
        out = {}
        for n, line in enumerate(_lines(idx), 1):
            key, tab, state = line.rstrip("\n").partition("\t")
            if not tab or state not in ("ok", "failed"):
                raise _corrupt(idx, f"line {n} is not 'KEY<TAB>ok|failed'")
            out[key] = state == "ok"
        return out

    def commit(self, records: Iterable[dict[str, Any]]) -> int:
        """Write the records not written yet as one new shard (atomically), then its index entry;
        returns how many were written."""
        fresh: dict[str, dict[str, Any]] = {}
        for r in records:
            if r["key"] not in self.done and r["key"] not in fresh:
                fresh[r["key"]] = r
        if not fresh:
            return 0
        name = f"pages-{self._next:06d}"
        body = "".join(dumps(r) + "\n" for r in fresh.values())  # (a non-UTF-8 file name as \udcXX)
        shard = self.out / f"{name}.jsonl"
        try:
            write_atomic(shard, body.encode("utf-8"))
        finally:
            # once the shard is in place its records are written, even when what follows fails (the
            # directory's fsync, the index: rebuilt from the shard by the next run); the caller commits
            # the same records again after a failure, which then wrote them twice
            if shard.exists():
                self._next += 1
                for k, r in fresh.items():
                    self.done[k] = not r.get("error")
        keys = "".join(f"{k}\t{'failed' if r.get('error') else 'ok'}\n" for k, r in fresh.items())
        write_atomic(self.out / "index" / f"{name}.keys", keys.encode())
        return len(fresh)

    def close(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
