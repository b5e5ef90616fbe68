"""Character n-gram language models (numpy + stdlib only).

A model is an interpolated Kneser-Ney character n-gram stored in back-off form: one table of
n-gram entries (all orders together) sorted by a 32-bit fingerprint of the n-gram's code points,
each with a quantised natural-log probability ``log p(last | preceding)`` and a quantised log
back-off weight used when the entry is a context. Unseen n-grams back off to shorter contexts;
a symbol never seen in training gets ``unk_logp``. Built by ``scripts/build_lm.py``.

File format (little-endian)::

    b"HWLM2\\n"  uint32 header_len  header (UTF-8 JSON: order, n, unk_logp, meta)
    uint32[n] keys (sorted, top 32 bits of the fingerprint)   uint16[n] check bits (next 16)
    uint8[n] logp codes   uint8[n] bow codes
    float32[256] logp codebook   float32[256] bow codebook

Text is NFKC-normalised and whitespace is dropped before lookup, so full-width and ASCII forms
share statistics.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import ModelError

MAGIC = b"HWLM2\n"
BOS = "\x02"  # line-start symbol used in training (never emitted by a recogniser)

# 64-bit FNV-1a over Unicode code points, then a splitmix64 finaliser; the stored key is the top
# 32 bits. Deterministic across processes and platforms (unlike ``hash()``).
H0 = 0xCBF29CE484222325
_P = 0x100000001B3
_M64 = (1 << 64) - 1
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


def hash_step_py(h: int, cp: int) -> int:
    return ((h ^ cp) * _P) & _M64


def _mix64(h: int) -> int:
    """The splitmix64 finaliser on a Python int (the same bits as :func:`fingerprint_np`)."""
    h ^= h >> 30
    h = (h * _C1) & _M64
    h ^= h >> 27
    h = (h * _C2) & _M64
    return h ^ (h >> 31)


def _mix_np(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array of at least one dimension (array arithmetic wraps
    silently, so no ``errstate``: entering one costs more than hashing a few dozen values)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(_C1)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(_C2)
    return h ^ (h >> np.uint64(31))


def _native(a: np.ndarray) -> np.ndarray:
    """``a`` itself on a little-endian machine, a native-order copy elsewhere."""
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))


def hash_str_py(s: str) -> int:
    h = H0
    for c in s:
        h = ((h ^ ord(c)) * _P) & _M64
    return h


def hash_step_np(h: np.ndarray, cp: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return (np.bitwise_xor(h, cp.astype(np.uint64))) * np.uint64(_P)


def fingerprint_np(h: np.ndarray) -> np.ndarray:
    """Mixed 64-bit fingerprint; the table stores its top 32 bits (sorted key) + next 16 bits."""
    with np.errstate(over="ignore"):  # a 0-d input would warn on overflow
        return _mix_np(np.asarray(h, dtype=np.uint64))


def _codebook(x: np.ndarray, levels: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Quantise ``x`` to ``levels`` values placed at quantiles (exact 0 kept); return codes, book."""
    x = np.asarray(x, dtype=np.float64)
    qs = np.quantile(x, np.linspace(0.0, 1.0, levels - 1)) if len(x) else np.zeros(levels - 1)
    book = np.unique(np.concatenate([qs, [0.0]]))
    book = np.concatenate([book, np.full(levels - len(book), book[-1])])
    # nearest code
    idx = np.clip(np.searchsorted(book, x), 1, levels - 1)
    left, right = book[idx - 1], book[idx]
    codes = np.where(np.abs(x - left) <= np.abs(right - x), idx - 1, idx).astype(np.uint8)
    return codes, book.astype(np.float32)


def write_lm(path: str | Path, model: dict, meta: dict | None = None) -> None:
    """Write a model built by ``scripts/build_lm.py`` (64-bit hash keys) in the shipped format."""
    fp = fingerprint_np(model["keys64"])
    order_ = np.lexsort(((fp >> np.uint64(16)) & np.uint64(0xFFFF), fp >> np.uint64(32)))
    fp = fp[order_]
    keys = (fp >> np.uint64(32)).astype(np.uint32)
    chk = ((fp >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.uint16)
    logp = np.asarray(model["logp"])[order_]
    bow = np.asarray(model["bow"])[order_]
    dup = np.concatenate([[False], keys[1:] == keys[:-1]])  # 32-bit collisions: keep the first
    keys, chk, logp, bow = keys[~dup], chk[~dup], logp[~dup], bow[~dup]
    lq, lbook = _codebook(logp)
    nz = bow < 0  # most entries have no children (weight 1): give the codebook to the others
    bq = np.zeros(len(bow), np.uint8)
    bq_nz, bbook = _codebook(bow[nz], 255)
    bq[nz] = bq_nz + 1
    bbook = np.concatenate([[0.0], bbook]).astype(np.float32)
    header = dict(order=int(model["order"]), n=int(len(keys)), unk_logp=float(model["unk_logp"]),
                  meta=meta or {})
    hb = json.dumps(header, sort_keys=True).encode()
    hb += b" " * (-(len(MAGIC) + 4 + len(hb)) % 16)  # align the arrays
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(np.uint32(len(hb)).tobytes())
        f.write(hb)
        f.write(keys.astype("<u4").tobytes())
        f.write(chk.astype("<u2").tobytes())
        f.write(lq.tobytes())
        f.write(bq.tobytes())
        f.write(lbook.astype("<f4").tobytes())
        f.write(bbook.astype("<f4").tobytes())


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return "".join(c for c in s if not c.isspace()) if any(c.isspace() for c in s) else s


@lru_cache(maxsize=65536)
def norm_text(s: str) -> str:
    """NFKC-normalise and drop whitespace (the LM's view of recogniser output)."""
    return _norm(s)


class CharLM:
    """Character n-gram LM. ``score(context, char)`` is ``ln p(char | last order-1 chars)``."""

    def __init__(self, keys: np.ndarray, logp_codes: np.ndarray, bow_codes: np.ndarray,
                 logp_book: np.ndarray, bow_book: np.ndarray, order: int, unk_logp: float,
                 meta: dict | None = None, path: str | None = None):
        self.keys = keys
        self.logp_codes = logp_codes
        self.bow_codes = bow_codes
        self.logp_book = logp_book.astype(np.float64)
        self.bow_book = bow_book.astype(np.float64)
        self.order = int(order)
        self.unk_logp = float(unk_logp)
        self.meta = meta or {}
        self.path = path
        self._cache: dict[tuple[str, str], float] = {}
        self._state_cache: dict[str, tuple[list, list, int]] = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> "CharLM":
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{p}: language model not found") from None
        except OSError as e:
            raise ModelError(f"{p}: cannot read language model ({e.strerror or e})") from None
        return cls.from_bytes(data, str(p))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> "CharLM":
        try:
            if not data.startswith(MAGIC):
                raise ValueError("bad magic")
            off = len(MAGIC)
            (hlen,) = np.frombuffer(data, "<u4", 1, off)
            off += 4
            header = json.loads(data[off:off + int(hlen)].decode())
            off += int(hlen)
            n = int(header["n"])
            keys = _native(np.frombuffer(data, "<u4", n, off))  # views into ``data``: no copies
            off += 4 * n
            chk = _native(np.frombuffer(data, "<u2", n, off))
            off += 2 * n
            lq = np.frombuffer(data, np.uint8, n, off)
            off += n
            bq = np.frombuffer(data, np.uint8, n, off)
            off += n
            lbook = np.frombuffer(data, "<f4", 256, off)
            off += 1024
            bbook = np.frombuffer(data, "<f4", 256, off)
            off += 1024
            if off != len(data):
                raise ValueError("trailing or missing bytes")
            order = int(header["order"])
            unk = float(header["unk_logp"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise ModelError(f"{name}: not a valid hwocr language model ({e})") from None
        lm = cls(keys, lq, bq, lbook, bbook, order, unk, header.get("meta"), name)
        lm.chk = chk
        return lm

    @classmethod
    def for_lang(cls, lang: str) -> "CharLM":
        """The language model shipped with the package for ``lang`` (``"zh"`` or ``"ja"``)."""
        return _shipped(lang)

    # ------------------------------------------------------------------ scoring
    def _find(self, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Table index and found flag of each mixed 64-bit fingerprint."""
        hi = (fps >> np.uint64(32)).astype(np.uint32)
        idx = np.searchsorted(self.keys, hi)
        np.minimum(idx, len(self.keys) - 1, out=idx)
        found = self.keys[idx] == hi
        found &= self.chk[idx] == ((fps >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.uint16)
        return idx, found

    def _entries(self, fps: list[int]) -> tuple[list[bool], list[float], list[float]]:
        """(found, log p, back-off) of each mixed fingerprint, as Python lists (0 where absent)."""
        idx, found = self._find(np.array(fps, dtype=np.uint64))
        return (found.tolist(), self.logp_book[self.logp_codes[idx]].tolist(),
                np.where(found, self.bow_book[self.bow_codes[idx]], 0.0).tolist())

    @staticmethod
    def _suffix_states(ctxs: Iterable[str]) -> dict[str, list[int]]:
        """Per context, the hash state of each of its suffixes, shortest (empty) first."""
        return {c: [H0] + [hash_str_py(c[len(c) - k:]) for k in range(1, len(c) + 1)] for c in ctxs}

    def _misses(self, ctxs: Iterable[str]) -> dict[str, list[int]]:
        """The suffix states of the contexts not cached yet (the cache is emptied first when full)."""
        cache = self._state_cache
        if len(cache) > 200_000:
            cache.clear()
        return self._suffix_states(c for c in dict.fromkeys(ctxs) if c not in cache)

    def _add_states(self, states: dict[str, list[int]], bows: list[float]) -> None:
        """Cache each context's suffix states and, per suffix length k, the summed back-off weight
        of its longer suffixes (added when the answer comes from length k); ``bows`` holds the
        back-off weights of each context's suffixes of length 1..L, context after context."""
        pos = 0
        for ctx, st in states.items():
            L = len(ctx)
            b = [0.0] + bows[pos:pos + L]
            pos += L
            acc = [0.0] * (L + 1)
            run = 0.0
            for k in range(L, -1, -1):
                acc[k] = run
                run += b[k]
            self._state_cache[ctx] = (st, acc, L)

    def _states(self, ctxs: Iterable[str]) -> None:
        """Ensure ``self._state_cache`` holds every context of ``ctxs`` (see :meth:`_add_states`)."""
        miss = self._misses(ctxs)
        if miss:
            fps = [_mix64(h) for st in miss.values() for h in st[1:]]
            self._add_states(miss, self._entries(fps)[2] if fps else [])

    def score_pairs(self, ctxs: Sequence[str], chars: Sequence[str]) -> list[float]:
        """``[score(x, c) for x, c in zip(ctxs, chars)]`` with one table search. Contexts must
        already be normalised and truncated (as produced by :meth:`next_context`).

        The beam decoder asks a few pairs at a time, so hashing runs on Python ints and the new
        contexts' back-off weights come from the same search: per call, numpy's overhead would
        otherwise cost more than the work."""
        m = len(ctxs)
        out = [0.0] * m
        sel, cps = [], []
        for i, c in enumerate(chars):
            t = norm_text(c)
            if len(t) == 1:
                sel.append(i)
                cps.append(ord(t))
            elif t:
                out[i] = self.score(ctxs[i], c)
        if not sel:
            return out
        miss = self._misses(ctxs[i] for i in sel)
        fps = [_mix64(h) for st in miss.values() for h in st[1:]]
        n_ctx = len(fps)
        cache = self._state_cache
        for i, cp in zip(sel, cps):
            st = miss[ctxs[i]] if ctxs[i] in miss else cache[ctxs[i]][0]
            fps.extend(_mix64(((h ^ cp) * _P) & _M64) for h in st)
        found, lp, bows = self._entries(fps)
        if miss:
            self._add_states(miss, bows[:n_ctx])
        pos = n_ctx
        unk = self.unk_logp
        for i in sel:
            _, acc, L = cache[ctxs[i]]
            v = unk + acc[0]  # no suffix found: a symbol never seen in training
            for k in range(L, -1, -1):  # the longest suffix (context) with an entry answers
                if found[pos + k]:
                    v = lp[pos + k] + acc[k]
                    break
            out[i] = v
            pos += L + 1
        return out

    def _score_cps(self, ctx: str, cps: np.ndarray) -> np.ndarray:
        """ln p(c | ctx) for an array of code points (ctx normalised and truncated)."""
        self._states([ctx])
        st, acc, L = self._state_cache[ctx]
        states = np.array(st[:L + 1], dtype=np.uint64)
        h = (states[:, None] ^ cps[None, :]) * np.uint64(_P)  # (L+1, m)
        idx, found = self._find(_mix_np(h))
        lp = self.logp_book[self.logp_codes[idx]]
        out = np.full(cps.shape[0], self.unk_logp + acc[0])
        done = np.zeros(cps.shape[0], dtype=bool)
        for k in range(L, -1, -1):
            hit = found[k] & ~done
            out[hit] = lp[k, hit] + acc[k]
            done |= hit
        return out

    def _ctx(self, context: str) -> str:
        ctx = norm_text(context) if context else ""
        n = self.order - 1
        return ctx[-n:] if len(ctx) > n else ctx

    def score(self, context: str, char: str) -> float:
        """Natural-log probability of ``char`` after ``context`` (only the last order-1 characters
        of the NFKC-normalised context matter). Multi-character strings are scored as a chain;
        an empty string (e.g. a space) scores 0."""
        ctx = self._ctx(context)
        key = (ctx, char)
        v = self._cache.get(key)
        if v is not None:
            return v
        c = norm_text(char)
        if len(c) == 1:
            v = float(self._score_cps(ctx, np.array([ord(c)], dtype=np.uint64))[0])
        else:
            v = 0.0
            n = self.order - 1
            for ch in c:
                v += float(self._score_cps(ctx, np.array([ord(ch)], dtype=np.uint64))[0])
                ctx = (ctx + ch)[-n:] if n else ""
        if len(self._cache) > 500_000:
            self._cache.clear()
        self._cache[key] = v
        return v

    def score_many(self, context: str, chars: Sequence[str]) -> np.ndarray:
        """Vectorised ``[score(context, c) for c in chars]``."""
        ctx = self._ctx(context)
        normed = [norm_text(c) for c in chars]
        out = np.empty(len(chars))
        single = [i for i, c in enumerate(normed) if len(c) == 1]
        if single:
            cps = np.array([ord(normed[i]) for i in single], dtype=np.uint64)
            out[single] = self._score_cps(ctx, cps)
        for i, c in enumerate(normed):
            if len(c) != 1:
                out[i] = self.score(ctx, chars[i])
        return out

    def next_context(self, context: str, text: str) -> str:
        """The (normalised, truncated) context after appending ``text``."""
        n = self.order - 1
        if n <= 0:
            return ""
        s = context + norm_text(text)
        return s[-n:] if len(s) > n else s

    def log_prob(self, text: str) -> float:
        """Total ln-probability of a string (no line-start context)."""
        ctx, tot = "", 0.0
        for c in norm_text(text):
            tot += self.score(ctx, c)
            ctx = self.next_context(ctx, c)
        return tot

    def __repr__(self) -> str:
        return f"CharLM(order={self.order}, entries={len(self.keys)}, path={self.path!r})"


_SHIPPED: dict[str, CharLM] = {}


def _shipped(lang: str) -> CharLM:
    lm = _SHIPPED.get(lang)
    if lm is not None:
        return lm
    from importlib import resources

    name = f"lm-{lang}.bin"
    try:
        ref = resources.files("hwocr").joinpath("data", name)
        data = ref.read_bytes()
    except (FileNotFoundError, OSError, ModuleNotFoundError):
        raise ModelError(f"no language model shipped for language {lang!r} (hwocr/data/{name} missing)") from None
    lm = CharLM.from_bytes(data, f"hwocr/data/{name}")
    _SHIPPED[lang] = lm
    return lm


__all__ = ["CharLM", "norm_text", "BOS"]
