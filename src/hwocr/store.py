"""The model store: a user cache of verified model files, filled atomically from the official
locations or a mirror, and never touched in offline mode."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from .errors import DownloadError, HwocrError, ModelError
from .registry import FileSpec, PackagedModel

ENV_DIR = "HWOCR_MODEL_DIR"
ENV_MIRROR = "HWOCR_MIRROR"
ENV_OFFLINE = "HWOCR_OFFLINE"
CHUNK = 1 << 20


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("hwocr", appauthor=False))


def _truthy(v: str | None, name: str = ENV_OFFLINE) -> bool:
    """An on/off environment value; anything else is an error (a typo must not mean "online")."""
    t = (v or "").strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("", "0", "false", "no", "off"):
        return False
    raise HwocrError(f"${name}={v[:40]!r}: expected 1 or 0 (true/false, yes/no, on/off)")


@dataclass
class Store:
    """Where model files live and how missing ones are fetched.

    Resolution: explicit arguments, then the environment (``HWOCR_MODEL_DIR``, ``HWOCR_MIRROR``,
    ``HWOCR_OFFLINE``), then the platform's user cache directory. A mirror is any base URL (http,
    https, file) or local folder that holds files at the same relative paths as the cache (so a
    filled cache, copied or served over HTTP, is a valid mirror); its files are verified and
    installed like downloads.
    """

    root: Path
    mirror: str | None = None
    offline: bool = False
    timeout: float = 30.0
    progress: bool | None = None  # None: show a bar when stderr is a terminal

    @classmethod
    def from_env(cls, root: str | os.PathLike | None = None, mirror: str | None = None,
                 offline: bool | None = None, timeout: float = 30.0) -> "Store":
        env = os.environ
        r = Path(root) if root else Path(env[ENV_DIR]) if env.get(ENV_DIR) else default_cache_dir()
        m = mirror or env.get(ENV_MIRROR) or None
        off = _truthy(env.get(ENV_OFFLINE)) if offline is None else offline
        return cls(root=r.expanduser(), mirror=m, offline=off, timeout=timeout)

    def path(self, spec: FileSpec) -> Path:
        return self.root / spec.relpath

    def url(self, spec: FileSpec) -> str:
        if self.mirror:
            return mirror_url(self.mirror).rstrip("/") + "/" + spec.relpath
        return spec.url

    def is_present(self, spec: FileSpec) -> bool:
        p = self.path(spec)
        return p.is_file() and p.stat().st_size == spec.size

    def ensure(self, spec: FileSpec, verify: bool = True) -> Path:
        """Return the local path of ``spec``, downloading it first if missing."""
        if self.root.exists() and not self.root.is_dir():
            raise DownloadError(f"{self.root}: the model cache ($HWOCR_MODEL_DIR or --model-dir) is not a folder")
        p = self.path(spec)
        if self.is_present(spec):
            if verify:
                verify_file(p, spec)
            return p
        if p.exists():
            # wrong size: a stale or foreign file; replace it
            pass
        if self.offline:
            raise DownloadError(
                f"{p}: not in the model cache and offline mode is on; "
                f"run 'hwocr models download' where there is network, or place the file there"
            )
        self.download(spec)
        return p

    def download(self, spec: FileSpec, reporthook: Callable[[int], None] | None = None) -> Path:
        """Fetch ``spec`` into the cache atomically: a temp file in the same folder, checked for
        size and hash, then renamed into place. Nothing partial is ever left behind."""
        dest = self.path(spec)
        url = self.url(spec)
        made = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]  # deepest first
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DownloadError(f"{dest.parent}: cannot create cache folder ({e.strerror or e})") from None
        try:
            return self._fetch(spec, url, dest, reporthook)
        except BaseException:
            for d in made:  # a failed download leaves no empty folders behind
                try:
                    d.rmdir()
                except OSError:
                    break
            raise

    def _fetch(self, spec: FileSpec, url: str, dest: Path, reporthook: Callable[[int], None] | None) -> Path:
        try:
            fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
        except OSError as e:  # a read-only cache, or one this user may not write
            raise DownloadError(f"{dest.parent}: cannot write to the model cache ({e.strerror or e})") from None
        tmp_path = Path(tmp)
        # the whole transfer has a deadline too (the timeout bounds one read: a server trickling a byte
        # every few seconds would take hours); MIN_RATE is far below any real link
        deadline = _clock() + self.timeout + spec.size / MIN_RATE
        try:
            h = hashlib.new(spec.algo)
            n = 0
            bar = self._bar(spec, dest.name)
            try:
                _check_local(url)
                req = urllib.request.Request(url, headers={"User-Agent": "hwocr"})
                with urllib.request.urlopen(req, timeout=self.timeout) as resp, os.fdopen(fd, "wb") as out:
                    fd = -1
                    while True:
                        chunk = resp.read(CHUNK)
                        if not chunk:
                            break
                        n += len(chunk)
                        if n > spec.size:
                            raise DownloadError(f"{url}: server sent more than the expected {spec.size} bytes")
                        if _clock() > deadline:
                            raise DownloadError(f"{url}: too slow ({n} of {spec.size} bytes in "
                                                f"{self.timeout + spec.size / MIN_RATE:.0f} s); not installed")
                        h.update(chunk)
                        out.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                        if reporthook:
                            reporthook(n)
            finally:
                if bar is not None:
                    bar.close()
            if n != spec.size:
                raise DownloadError(f"{url}: download incomplete ({n} of {spec.size} bytes)")
            if h.hexdigest() != spec.digest:
                raise DownloadError(f"{url}: {spec.algo} mismatch (file corrupt or tampered with); not installed")
            os.replace(tmp_path, dest)
        except DownloadError:
            raise
        except urllib.error.HTTPError as e:
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
        except urllib.error.URLError as e:
            if url.startswith("file:"):
                raise DownloadError(f"{url}: not in the mirror folder ({_reason(e.reason)})") from None
            raise DownloadError(f"{url}: cannot connect ({_reason(e.reason)})") from None
        except http.client.HTTPException as e:
            raise DownloadError(f"{url}: download broken off ({type(e).__name__})") from None
        except (socket.timeout, TimeoutError):
            raise DownloadError(f"{url}: timed out after {self.timeout:g} s") from None
        except OSError as e:
            raise DownloadError(f"{url}: download failed ({_reason(e)})") from None
        finally:
            if fd != -1:
                os.close(fd)
            if tmp_path.exists():
                tmp_path.unlink()
        return dest

    def _bar(self, spec: FileSpec, label: str):
        show = self.progress if self.progress is not None else sys.stderr.isatty()
        if not show:
            return None
        from tqdm import tqdm

        return tqdm(total=spec.size, unit="B", unit_scale=True, desc=label, file=sys.stderr, leave=False)


MIRROR_SCHEMES = ("http", "https", "file")
#: bytes per second below which a download is given up (over the whole file, after the read timeout)
MIN_RATE = 16 * 1024
_clock = time.monotonic


def _check_local(url: str) -> None:
    """A file:// URL (a mirror folder) must name a regular file: a FIFO there waited for ever."""
    if not url.startswith("file:"):
        return
    from urllib.parse import urlparse

    from .files import regular_size

    path = urllib.request.url2pathname(urlparse(url).path)
    if os.path.exists(path) and regular_size(path) is None:
        raise DownloadError(f"{url}: not a regular file in the mirror folder")


def mirror_url(mirror: str) -> str:
    """A mirror as a base URL: http(s):// and file:// as they are, an existing folder as its file://
    URL; anything else is a one-line DownloadError."""
    from urllib.parse import urlparse

    scheme = urlparse(mirror).scheme.lower()
    if scheme in MIRROR_SCHEMES and (scheme == "file" or urlparse(mirror).netloc):
        return mirror
    p = Path(mirror).expanduser()
    if p.is_dir():
        return p.resolve().as_uri()
    raise DownloadError(f"mirror {mirror!r}: not an http://, https:// or file:// URL, nor an existing folder "
                        f"(--mirror / ${ENV_MIRROR})")


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, spec: FileSpec) -> None:
    size = path.stat().st_size
    if size != spec.size:
        raise ModelError(f"{path}: size {size} differs from the expected {spec.size}; run 'hwocr models download'")
    if file_digest(path, spec.algo) != spec.digest:
        raise ModelError(f"{path}: {spec.algo} mismatch (corrupt or tampered with); delete it and download again")


def packaged_path(model: PackagedModel, verify: bool = True) -> Path:
    """Locate a model file shipped inside an installed package (and its weights file, if it has one)
    and check their SHA-256."""
    files = [(model.resource, model.size, model.sha256)]
    if model.weights:
        files.append(model.weights)
    paths = []
    for resource, size, sha in files:
        try:
            ref = resources.files(model.package).joinpath(resource)
        except ModuleNotFoundError:
            raise ModelError(f"{model.name}: package '{model.package}' is not installed "
                             f"(pip install {model.package})") from None
        p = Path(str(ref))
        if not p.is_file():
            raise ModelError(f"{p}: {model.name} is missing from the installed '{model.package}' package")
        if verify and (p.stat().st_size != size or file_digest(p, "sha256") != sha):
            raise ModelError(f"{p}: not the expected {model.name} (size or SHA-256 differs); "
                             f"reinstall {model.package}")
        paths.append(p)
    return paths[0]


def _reason(r: object) -> str:
    if isinstance(r, OSError) and r.strerror:
        return r.strerror
    return str(r).splitlines()[0][:160] if str(r) else type(r).__name__
