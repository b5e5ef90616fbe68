#!/usr/bin/env python3
"""Build the character n-gram language models shipped as ``src/hwocr/data/lm-{zh,ja}.bin``.

Reproducible: every source is an openly licensed package fetched from a registry at a pinned
version (see ``scripts/LM_SOURCES.md``) into a cache folder (default ``build/lm-sources/``), and the
build is deterministic given those inputs (fixed RNG seeds, sorted file walks, stable hashing).

    python scripts/build_lm.py                 # fetch what is missing, build both models, report
    python scripts/build_lm.py --lang zh       # one language
    python scripts/build_lm.py --weights libime=0.6,libpinyin=0.35,wordfreq=0.05 --lang zh

Build-time needs (not at runtime): ``apt-get`` with a ``deb-src`` line (see ``fetch_sources``),
``dpkg-deb``, ``tar``, ``npm``, and the PyPI packages ``wordfreq``, ``opencc-python-reimplemented``.

Sources: modern text sampled from the word n-gram models of Debian's input-method packages
(``scripts/lm_sampler.py``), wordfreq pseudo-text, and the earlier Debian manuals / poetry. One
character model is built per source; the shipped model is their static linear interpolation, with
weights fitted by EM on held-out everyday sentences (half A of HSK graded sentences for zh, of
anthy's conversion corpus for ja; half B is only reported; neither is ever trained on). The build
prints bits per character on both halves per source, per mixture, for the previous model and for
the shipped one.

Model: per source, interpolated Kneser-Ney character n-grams with count-cutoff pruning (pruned mass
goes to the back-off weight so every distribution still sums to one); mixed and stored in back-off
form: one table of n-gram entries keyed by a 32-bit fingerprint of a 64-bit FNV-1a/splitmix hash of
the n-gram's code points, each with a quantised log-probability and a quantised log back-off
weight. The file format is documented in ``src/hwocr/lm.py`` (which reads it); its JSON header
carries the sources, their licences and attribution.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import subprocess
import sys
import tarfile
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hwocr.lm import (  # noqa: E402  (runtime module: hashing + file format live there)
    BOS,
    hash_step_np,
    H0,
    write_lm,
)
from lm_sampler import Punctuation, read_arpa, read_libpinyin_counts, sample_lines  # noqa: E402

# ----------------------------------------------------------------------------- sources

DEBS = {
    "zh": [
        ("manpages-zh", "1.6.4.0-1"),
        ("debian-reference-zh-cn", "2.100"),
        ("debian-faq-zh-cn", "11.1"),
        ("debian-edu-doc-zh-cn", "2.12.23~deb12u1"),
        ("fortunes-zh", "2.98"),
        # modern running prose (added later; segments de-duplicated within each package)
        ("debian-handbook", "11.20220922", "/html/zh-CN/"),
        ("gimp-help-zh-cn", "2.10.34-2"),
        ("gnome-user-docs", "43.0-2", "/help/zh_CN/"),
        ("libreoffice-help-zh-cn", "4:7.4.7-1+deb12u14"),
        ("maint-guide-zh-cn", "1.2.53"),
    ],
    "ja": [
        ("manpages-ja", "0.5.0.0.20221215+dfsg-1"),
        ("manpages-ja-dev", "0.5.0.0.20221215+dfsg-1"),
        ("debian-reference-ja", "2.100"),
        ("debian-edu-doc-ja", "2.12.23~deb12u1"),
        ("debian-policy-ja", "4.6.2.0"),
        ("aptitude-doc-ja", "0.8.13-5"),
        ("gimp-help-ja", "2.10.34-2"),
        # modern running prose (added later; segments de-duplicated within each package)
        ("debian-handbook", "11.20220922", "/html/ja-JP/"),
        ("gnome-user-docs", "43.0-2", "/help/ja/"),
        ("libreoffice-help-ja", "4:7.4.7-1+deb12u14"),
        ("maint-guide-ja", "1.2.53"),
        ("developers-reference-ja", "12.18"),
        ("debian-faq-ja", "11.1"),
        ("lilypond-doc-html-ja", "2.24.1-2", ".ja.html"),
    ],
}
# A DEBS entry is (package, version) or (package, version, path filter): a package of many
# languages contributes only files whose path contains the filter. Entries with a filter or
# listed in DEDUP have their segments de-duplicated (HTML manuals repeat navigation text).
DEDUP = {"gimp-help-zh-cn", "libreoffice-help-zh-cn", "maint-guide-zh-cn", "libreoffice-help-ja",
         "maint-guide-ja", "developers-reference-ja", "debian-faq-ja"}
NPM_POETRY = ("chinese-poetry", "2.0.1")
PYPI = {"wordfreq": "3.1.1", "opencc-python-reimplemented": "0.1.7"}
POETRY_CHARS = 3_000_000

# Modern text: word n-gram models shipped in Debian source packages (fetched with
# ``apt-get source --download-only``, which needs a ``deb-src`` line), turned into text by sampling.
# (source package, version, file inside the orig tarball, file inside that file if it is an archive)
SRC_DEBS = {
    "libkkc-data": ("0.2.7-5", "libkkc-data-0.2.7/data/models/text3/data.arpa", None),
    "libime": ("1.0.16-1", "libime-1.0.16/data/lm_sc.arpa-20220810.tar.xz", "lm_sc.arpa"),
    "libpinyin": ("2.8.1-1", "libpinyin-2.8.1/data/interpolation2.text", None),
    "anthy": ("1:0.4-2", "anthy-0.4/corpus", None),  # held-out Japanese phrases (measuring only)
}
# Held-out everyday Chinese sentences (measuring only, never training).
HELDOUT_PYPI = ("hsk-sentences-audio", "1.0.0")

# Components of each language's training text, with the characters each source model is
# trained on. Sampled components (word LMs, wordfreq) give any amount; fixed text (manuals,
# poetry) gives what it has. One model is built per component; the shipped model is their linear
# interpolation with weights fitted by EM on held-out everyday text (half A). The sizes keep the
# shipped files near the earlier 15 MB (zh) / 11 MB (ja).
SOURCES = {
    "zh": {"libime": 12_000_000, "libpinyin": 6_000_000, "wordfreq": 6_000_000,
           "manuals": 4_000_000, "poetry": 2_000_000},
    "ja": {"libkkc": 12_000_000, "wordfreq": 6_000_000, "manuals": 7_000_000},
}
MIN_WEIGHT = 0.05  # a component with a smaller EM weight is dropped (it only adds entries)

ORDER = 4
# Count cut-offs per order (index = order): keep an n-gram of order k only if its (continuation)
# count is >= CUTOFF[k]. Unigrams are always kept.
CUTOFF = {"zh": {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}, "ja": {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}}
UNK_VOCAB = 30000  # the unigram interpolates with a uniform distribution over this many symbols


def sh(cmd: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def fetch(cache: Path, langs: list[str]) -> None:
    deb_dir = cache / "deb"
    deb_dir.mkdir(parents=True, exist_ok=True)
    need = sorted({(e[0], e[1]) for lang in langs for e in DEBS[lang]})
    missing = [(p, v) for p, v in need if not list(deb_dir.glob(f"{p}_*.deb"))]
    if missing:
        try:
            sh(["apt-get", "download", *[f"{p}={v}" for p, v in missing]], cwd=deb_dir)
        except subprocess.CalledProcessError:
            sh(["apt-get", "update"])
            sh(["apt-get", "download", *[f"{p}={v}" for p, v in missing]], cwd=deb_dir)
    for p, v in need:
        debs = sorted(deb_dir.glob(f"{p}_*.deb"))
        out = cache / "x" / debs[0].stem
        if not out.exists():
            sh(["dpkg-deb", "-x", str(debs[0]), str(out)])
    if "zh" in langs:
        npm_dir = cache / "npm"
        npm_dir.mkdir(parents=True, exist_ok=True)
        name, ver = NPM_POETRY
        tgz = npm_dir / f"{name}-{ver}.tgz"
        if not tgz.exists():
            sh(["npm", "pack", f"{name}@{ver}"], cwd=npm_dir)
    fetch_sources(cache)
    import importlib.metadata as md

    for pkg, ver in PYPI.items():
        try:
            have = md.version(pkg)
        except md.PackageNotFoundError:
            have = None
        if have != ver:
            sh([sys.executable, "-m", "pip", "install", f"{pkg}=={ver}"])


def fetch_sources(cache: Path) -> None:
    """Debian source packages (word LMs, held-out Japanese) and the held-out Chinese wheel.

    ``apt-get source`` needs a ``deb-src`` entry; on Debian bookworm add
    ``/etc/apt/sources.list.d/debian-src.sources`` mirroring the ``deb`` one with
    ``Types: deb-src``, then ``apt-get update``. Only the upstream tarballs are used (a missing
    Debian patch tarball is tolerated)."""
    src_dir = cache / "src"
    src_dir.mkdir(parents=True, exist_ok=True)
    missing = [(p, v) for p, (v, *_x) in SRC_DEBS.items() if not _orig(src_dir, p)]
    if missing:
        cmd = ["apt-get", "source", "--download-only", *[f"{p}={v}" for p, v in missing]]
        try:
            sh(cmd, cwd=src_dir)
        except subprocess.CalledProcessError:
            if any(not _orig(src_dir, p) for p, _v in missing):
                raise SystemExit("apt-get source failed: add a deb-src line (see fetch_sources) "
                                 "and run apt-get update") from None
    for p, (_v, member, inner) in SRC_DEBS.items():
        out = cache / "x" / member
        if not out.exists():
            (cache / "x").mkdir(parents=True, exist_ok=True)
            sh(["tar", "xf", str(_orig(src_dir, p)), "-C", str(cache / "x"), member])
        if inner and not (out.parent / inner).exists():
            sh(["tar", "xf", str(out), "-C", str(out.parent), inner])
    pypi = cache / "pypi"
    name, ver = HELDOUT_PYPI
    if not list(pypi.glob(f"{name.replace('-', '_')}-{ver}-*.whl")):
        pypi.mkdir(parents=True, exist_ok=True)
        sh([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(pypi), f"{name}=={ver}"])


def _orig(src_dir: Path, pkg: str) -> Path | None:
    found = sorted(src_dir.glob(f"{pkg}_*.orig.tar.*"))
    found = [f for f in found if not f.name.endswith(".asc")]
    return found[0] if found else None


# ----------------------------------------------------------------------------- text cleaning

_BOX = re.compile("[\u2500-\u257f]")


def _keep(c: str) -> bool:
    """Characters the LM models (after NFKC): CJK, kana, Latin, digits, punctuation, symbols."""
    if _BOX.match(c):
        return False
    cat = unicodedata.category(c)
    if cat[0] in "PSN":
        return cat != "No" or c.isdigit()
    if cat[0] == "L":
        o = ord(c)
        return (
            c.isascii()
            or 0x00C0 <= o <= 0x024F  # Latin-1 supplement / extended
            or 0x3040 <= o <= 0x30FF  # kana
            or 0x31F0 <= o <= 0x31FF
            or 0x3400 <= o <= 0x9FFF  # CJK unified (+ ext A)
            or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3FFFF
            or c == "〇"
        )
    return False


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return 0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or o >= 0x20000 or c == "〇"


def normalise_line(s: str, min_cjk: float = 0.5, min_len: int = 2) -> list[str]:
    """NFKC, drop whitespace, split at characters the LM does not model; keep mostly-CJK segments."""
    s = unicodedata.normalize("NFKC", s)
    out, cur = [], []
    for c in s:
        if c.isspace():
            continue
        if _keep(c):
            cur.append(c)
        else:
            if cur:
                out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    keep = []
    for seg in out:
        if len(seg) < min_len:
            continue
        n = sum(_is_cjk(c) for c in seg)
        if n >= min_cjk * len(seg):
            keep.append(seg)
    return keep


# ----------------------------------------------------------------------------- extractors

_TROFF_ESC = re.compile(r"\\(f\[[^\]]*\]|f\(..|f.|\(..|\*\(..|\*\[[^\]]*\]|\*.|s[-+]?\d+|[&/,:|^%]|.)")
_TROFF_MAP = {"\\-": "-", "\\e": "\\", "\\ ": " ", "\\~": " ", "\\(em": "—", "\\(en": "–",
              "\\(lq": "“", "\\(rq": "”", "\\(aq": "'", "\\(dq": '"', "\\(bu": "・"}


def troff_lines(raw: str):
    for ln in raw.splitlines():
        if ln.startswith(".\\\"") or ln.startswith("'\\\""):
            continue
        if ln.startswith(".") or ln.startswith("'"):
            parts = ln.split(None, 1)
            if len(parts) < 2:
                continue
            ln = parts[1].replace('"', " ")
        ln = _TROFF_ESC.sub(lambda m: _TROFF_MAP.get(m.group(0), ""), ln)
        yield ln


_HTML_DROP = re.compile(r"<(script|style|pre|code|head)\b.*?</\1>", re.S | re.I)
_HTML_BLOCK = re.compile(r"</?(p|div|br|li|tr|td|th|h\d|dt|dd|title|table|ul|ol|blockquote)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<[^>]+>")


def html_lines(raw: str):
    raw = _HTML_DROP.sub(" ", raw)
    raw = _HTML_BLOCK.sub("\n", raw)
    raw = _HTML_TAG.sub("", raw)
    yield from html.unescape(raw).splitlines()


def deb_text(root: Path, only: str | None = None):
    """Yield text lines from man pages (troff), HTML, Mallard and plain-text docs inside an
    unpacked .deb (only files whose path contains ``only``, if given)."""
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = str(p.relative_to(root))
        if only and only not in rel:
            continue
        if "big-page" in p.name:  # single-page copies of manuals also shipped split
            continue
        if "/doc/" in rel and p.name in ("copyright", "changelog.gz", "changelog.Debian.gz"):
            continue
        data = p.read_bytes()
        name = p.name
        if name.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except OSError:
                continue
            name = name[:-3]
        try:
            txt = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if "/man/" in rel:
            yield from troff_lines(txt)
        elif name.endswith((".html", ".htm", ".xhtml", ".page")):
            yield from html_lines(txt)
        elif "/fortunes/" in rel and not name.endswith(".dat"):
            yield from txt.replace("\x1b", "").splitlines()
        elif name.endswith(".txt") or name == "FAQ":
            yield from txt.splitlines()


def _json_strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, list):
        for x in obj:
            yield from _json_strings(x)
    elif isinstance(obj, dict):
        for k in sorted(obj):
            if k in ("id", "author", "rhythmic", "notes", "tags"):
                continue
            yield from _json_strings(obj[k])


def poetry_text(tgz: Path, max_chars: int):
    """Classical Chinese poetry/prose (MIT), converted to simplified Chinese, capped in size."""
    from opencc import OpenCC

    cc = OpenCC("t2s")
    lines = []
    with tarfile.open(tgz) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile() and m.name.endswith(".json")),
                         key=lambda m: m.name)
        for m in members:
            if "/dist/" not in m.name or "/rank/" in m.name or "/strains/" in m.name:
                continue
            try:
                obj = json.load(tf.extractfile(m))
            except (ValueError, UnicodeDecodeError):
                continue
            lines.extend(_json_strings(obj))
    # deterministic subsample spread over all collections
    rng = np.random.default_rng(1234)
    order = rng.permutation(len(lines))
    out, n = [], 0
    for i in order:
        if n >= max_chars:
            break
        s = lines[i]
        out.append(s)
        n += len(s)
    return [cc.convert(s) for s in out]


def wordfreq_text(lang: str, n_chars: int, seed: int):
    """Pseudo-text: words sampled i.i.d. by their wordfreq frequency (gives word-internal n-grams
    and a modern general-domain unigram distribution). Digit runs (folded to 0 by wordfreq) are
    replaced by random digits."""
    import wordfreq

    d = wordfreq.get_frequency_dict(lang)
    words = sorted(d)
    freqs = np.array([d[w] for w in words], dtype=np.float64)
    freqs /= freqs.sum()
    rng = np.random.default_rng(seed)
    mean_len = float(np.dot(freqs, [len(w) for w in words]))
    n_words = int(n_chars / max(mean_len, 1.0))
    idx = rng.choice(len(words), size=n_words, p=freqs)
    lens = rng.integers(5, 30, size=n_words // 5 + 2)
    lines, i, j = [], 0, 0
    while i < n_words:
        k = int(lens[j]); j += 1
        toks = [words[t] for t in idx[i:i + k]]
        i += k
        s = "".join(toks)
        if "0" in s:
            s = re.sub("0", lambda _m: str(int(rng.integers(0, 10))), s)
        lines.append(s)
    return lines


def manual_corpus(lang: str, cache: Path) -> dict[str, list[str]]:
    """The earlier sources: Debian manuals (+ classical poetry for zh), {package: segments}."""
    srcs: dict[str, list[str]] = {}
    for p, v, *only in DEBS[lang]:
        debs = sorted((cache / "deb").glob(f"{p}_*.deb"))
        root = cache / "x" / debs[0].stem
        segs = []
        for ln in deb_text(root, only[0] if only else None):
            segs.extend(normalise_line(ln))
        if only or p in DEDUP:
            segs = list(dict.fromkeys(segs))
        srcs[p] = segs
    if lang == "zh":
        name, ver = NPM_POETRY
        segs = []
        for ln in poetry_text(cache / "npm" / f"{name}-{ver}.tgz", POETRY_CHARS):
            segs.extend(normalise_line(ln))
        srcs["chinese-poetry"] = segs
    return srcs


# ----------------------------------------------------------------------------- model


def encode(lines: list[str]) -> np.ndarray:
    """Concatenate lines as code points, each line preceded by BOS."""
    s = "".join(BOS + ln for ln in lines)
    return np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def build_model(lines: list[str], order: int, cutoff: dict[int, int], verbose: bool = True):
    """Interpolated Kneser-Ney (one discount per order) with count cut-offs, in back-off form.

    Everything is keyed by exact 64-bit n-gram hashes (H[k][i] = hash of the k symbols ending at
    position i), so n-gram, context (H[k-1][i-1]) and suffix (H[k-1][i]) keys are array lookups.
    """
    t0 = time.time()
    cps = encode(lines)
    n = len(cps)
    isbos = cps == ord(BOS)
    pos = np.arange(n)
    last_bos = np.maximum.accumulate(np.where(isbos, pos, 0))
    dist = pos - last_bos  # 0 at BOS itself; an n-gram of order k ending at i is valid if dist>=k-1
    H = [np.full(n, H0, dtype=np.uint64)]
    for k in range(1, order + 1):
        prev = np.full(n, H0, dtype=np.uint64)
        prev[1:] = H[k - 1][:-1]
        H.append(hash_step_np(prev, cps))
    if verbose:
        print(f"  {n:,} code points, hashing {time.time() - t0:.1f}s", flush=True)

    U = {}
    for k in range(1, order + 1):
        valid = dist >= k - 1
        if k > 1:
            valid &= ~isbos  # BOS is only ever the unigram "BOS" (a context, never predicted)
        where = np.flatnonzero(valid)
        u, first, cnt = np.unique(H[k][where], return_index=True, return_counts=True)
        p = where[first]
        U[k] = dict(key=u, pos=p, cnt=cnt.astype(np.int64),
                    ctx=H[k - 1][p - 1] if k > 1 else np.full(len(u), H0, np.uint64),
                    bos_start=(dist[p] == k - 1) if k > 1 else np.zeros(len(u), bool),
                    is_bos=isbos[p] if k == 1 else np.zeros(len(u), bool))
    if verbose:
        print("  unique n-grams:", {k: len(U[k]["key"]) for k in U}, f"{time.time() - t0:.1f}s", flush=True)

    # KN counts: raw at the top order and for n-grams starting with BOS; continuation counts
    # N1+(. w) otherwise. The BOS unigram predicts nothing (count 0) but is kept as a context.
    cnt = {order: U[order]["cnt"].copy()}
    for k in range(order - 1, 0, -1):
        hi = U[k + 1]
        suf = H[k][hi["pos"]]
        s, c = np.unique(suf, return_counts=True)
        idx = np.clip(np.searchsorted(s, U[k]["key"]), 0, len(s) - 1)
        cont = np.where(s[idx] == U[k]["key"], c[idx], 0)
        cnt[k] = np.where(U[k]["bos_start"], U[k]["cnt"], cont).astype(np.int64)
    cnt[1] = np.where(U[1]["is_bos"], 0, cnt[1])

    keep = {k: cnt[k] >= cutoff.get(k, 1) for k in range(1, order + 1)}
    keep[1] = np.ones(len(cnt[1]), bool)
    for k in range(order, 1, -1):  # prefix closure: a kept n-gram's context is kept
        need = np.unique(U[k]["ctx"][keep[k]])
        idx = np.clip(np.searchsorted(U[k - 1]["key"], need), 0, len(U[k - 1]["key"]) - 1)
        ok = U[k - 1]["key"][idx] == need
        keep[k - 1][idx[ok]] = True

    D = {}
    for k in range(1, order + 1):
        c = cnt[k]
        n1, n2 = int(np.sum(c == 1)), int(np.sum(c == 2))
        D[k] = min(max(n1 / (n1 + 2 * n2) if n1 + n2 else 0.5, 0.1), 0.95)

    key_k, logp_k, bow_k, gram_k = {}, {}, {}, {}
    unk_logp = 0.0
    for k in range(1, order + 1):
        u = U[k]
        c = cnt[k].astype(np.float64)
        ctx_u, inv = np.unique(u["ctx"], return_inverse=True)
        denom = np.bincount(inv, weights=c, minlength=len(ctx_u))
        disc = np.where(keep[k], np.maximum(c - D[k], 0.0), 0.0)
        kept_mass = np.bincount(inv, weights=disc, minlength=len(ctx_u))
        safe = np.maximum(denom, 1e-300)
        gamma = np.where(denom > 0, (denom - kept_mass) / safe, 1.0)
        a = disc / safe[inv]
        if k == 1:
            lower = np.full(len(c), 1.0 / UNK_VOCAB)
            unk_logp = float(np.log(gamma[0] / UNK_VOCAB))
        else:
            lower = np.exp(_backoff_lookup(key_k, logp_k, bow_k, H, u["pos"], k - 1, unk_logp))
        lp = np.log(np.maximum(a + gamma[inv] * lower, 1e-30))
        lp = np.where(c > 0, lp, 0.0)  # BOS unigram: never predicted; dummy value
        key_k[k] = u["key"][keep[k]]
        logp_k[k] = lp[keep[k]]
        bow_k[k] = np.zeros(len(key_k[k]))
        kp = u["pos"][keep[k]]
        gram_k[k] = np.stack([cps[kp - k + 1 + j] for j in range(k)], axis=1).astype(np.uint32)
        if k > 1:  # gamma of this order's contexts is the back-off weight of order k-1 entries
            idx = np.clip(np.searchsorted(key_k[k - 1], ctx_u), 0, len(key_k[k - 1]) - 1)
            ok = key_k[k - 1][idx] == ctx_u
            bow_k[k - 1][idx[ok]] = np.log(np.maximum(gamma[ok], 1e-30))
    if verbose:
        print("  discounts", {k: round(v, 3) for k, v in D.items()},
              "kept", {k: int(len(key_k[k])) for k in key_k}, f"{time.time() - t0:.1f}s", flush=True)
    return dict(keys64=np.concatenate([key_k[k] for k in range(1, order + 1)]),
                logp=np.concatenate([logp_k[k] for k in range(1, order + 1)]),
                bow=np.concatenate([bow_k[k] for k in range(1, order + 1)]),
                order=order, unk_logp=unk_logp,
                tables={k: (key_k[k], logp_k[k], bow_k[k]) for k in key_k}, grams=gram_k)


def _hash_rows(C: np.ndarray) -> np.ndarray:
    """64-bit hash of each row of code points (the same hash as ``H`` in :func:`build_model`)."""
    h = np.full(len(C), H0, dtype=np.uint64)
    for j in range(C.shape[1]):
        h = hash_step_np(h, C[:, j])
    return h


def _lookup_rows(tables: dict, C: np.ndarray, unk_logp: float) -> np.ndarray:
    """ln p(last symbol | the others) of each row of ``C`` in a back-off model given as
    ``{order: (sorted keys, logp, bow)}`` (a missing context's back-off weight is 1)."""
    m, k = C.shape
    out = np.zeros(m)
    done = np.zeros(m, bool)
    acc = np.zeros(m)
    for j in range(k):  # the n-gram C[:, j:] of order k - j, longest first
        kk = k - j
        if kk in tables:
            keys, logp, _ = tables[kk]
            idx, found = _find(keys, _hash_rows(C[:, j:]))
            hit = found & ~done
            out[hit] = acc[hit] + logp[idx[hit]]
            done |= hit
        if kk > 1 and (kk - 1) in tables:  # back off from the context C[:, j:k-1]
            keys, _, bow = tables[kk - 1]
            cidx, cfound = _find(keys, _hash_rows(C[:, j:k - 1]))
            acc += np.where(cfound & ~done, bow[cidx], 0.0)
    out[~done] = acc[~done] + unk_logp
    return out


def interpolate_models(models: list[dict], weights: list[float], verbose: bool = True) -> dict:
    """Static linear interpolation of back-off models into one back-off model (as SRILM's
    ``ngram -mix-lm`` does): the entries are the union of the sources' entries, each with
    p = sum_s w_s p_s (p_s by back-off where source s has no entry); each context's back-off
    weight renormalises the mixed model's own lower order over the words it lacks."""
    t0 = time.time()
    order = max(m["order"] for m in models)
    w = np.asarray(weights, dtype=np.float64) / sum(weights)
    unk = float(np.log(sum(wi * np.exp(m["unk_logp"]) for wi, m in zip(w, models))))
    mixed: dict[int, tuple] = {}
    grams: dict[int, np.ndarray] = {}
    for k in range(1, order + 1):
        C = np.concatenate([m["grams"][k] for m in models if k in m["grams"]])
        keys = _hash_rows(C)
        keys, first = np.unique(keys, return_index=True)
        C = C[first]
        p = np.zeros(len(C))
        for wi, m in zip(w, models):
            p += wi * np.exp(_lookup_rows(m["tables"], C, m["unk_logp"]))
        logp = np.log(np.maximum(p, 1e-30))
        if k == 1:
            logp = np.where(C[:, 0] == ord(BOS), 0.0, logp)  # BOS: a context, never predicted
        mixed[k] = (keys, logp, np.zeros(len(keys)))
        grams[k] = C
        if k > 1:  # back-off weights of the order k-1 contexts
            lower = {j: mixed[j] for j in range(1, k)}
            p_low = np.exp(_lookup_rows(lower, C[:, 1:], unk))
            ctx = _hash_rows(C[:, :-1])
            ctx_u, inv = np.unique(ctx, return_inverse=True)
            num = 1.0 - np.bincount(inv, weights=p, minlength=len(ctx_u))
            den = 1.0 - np.bincount(inv, weights=p_low, minlength=len(ctx_u))
            bow = np.log(np.clip(num, 1e-12, None) / np.clip(den, 1e-12, None))
            pk, plogp, pbow = mixed[k - 1]
            idx, found = _find(pk, ctx_u)
            pbow = pbow.copy()
            pbow[idx[found]] = bow[found]
            mixed[k - 1] = (pk, plogp, pbow)
        if verbose:
            print(f"  mixed order {k}: {len(keys):,} entries, {time.time() - t0:.1f}s", flush=True)
    return dict(keys64=np.concatenate([mixed[k][0] for k in range(1, order + 1)]),
                logp=np.concatenate([mixed[k][1] for k in range(1, order + 1)]),
                bow=np.concatenate([mixed[k][2] for k in range(1, order + 1)]),
                order=order, unk_logp=unk, tables=mixed, grams=grams)


def _find(keys: np.ndarray, q: np.ndarray):
    idx = np.clip(np.searchsorted(keys, q), 0, max(len(keys) - 1, 0))
    return idx, keys[idx] == q


def _backoff_lookup(key_k, logp_k, bow_k, H, pos, kmax, unk_logp):
    """ln p(sym[pos] | the kmax-1 symbols before it) from the tables of orders 1..kmax, backing off
    through shorter contexts (back-off weights of missing contexts count as 0)."""
    out = np.zeros(len(pos))
    done = np.zeros(len(pos), bool)
    acc = np.zeros(len(pos))
    for j in range(kmax, 0, -1):
        idx, found = _find(key_k[j], H[j][pos])
        hit = found & ~done
        out[hit] = acc[hit] + logp_k[j][idx[hit]]
        done |= hit
        if j > 1:  # back off from context of length j-1 (symbols pos-j+1..pos-1)
            cidx, cfound = _find(key_k[j - 1], H[j - 1][pos - 1])
            acc += np.where(cfound & ~done, bow_k[j - 1][cidx], 0.0)
    out[~done] = acc[~done] + unk_logp
    return out




# ----------------------------------------------------------------------------- held-out text


def heldout(lang: str, cache: Path) -> list[str]:
    """Everyday sentences for measuring (never training): HSK graded sentences (zh), anthy's
    conversion corpus surfaces (ja; lines marked ``~`` are wrong conversions and are skipped).
    NFKC, whitespace removed; punctuation is kept (a recogniser reads it too)."""
    out = []
    if lang == "zh":
        import zipfile

        name, ver = HELDOUT_PYPI
        whl = sorted((cache / "pypi").glob(f"{name.replace('-', '_')}-{ver}-*.whl"))[0]
        with zipfile.ZipFile(whl) as z:
            data = json.loads(z.read("hsk_sentences_audio/data/sentences.json"))
        raw = [d["chinese"] for d in data]
    else:
        raw = []
        for f in sorted((cache / "x" / SRC_DEBS["anthy"][1]).glob("corpus.*.txt")):
            for ln in f.read_text("utf-8", errors="replace").splitlines():
                if ln.startswith("#") or "| |" not in ln or "~" in ln:
                    continue
                raw.append("".join(ln.split("| |", 1)[1].split("|")))
    for s in raw:
        s = "".join(c for c in unicodedata.normalize("NFKC", s) if not c.isspace())
        if s:
            out.append(s)
    return list(dict.fromkeys(out))


def split_heldout(sents: list[str]) -> tuple[list[str], list[str]]:
    """Half A (chooses the mixture) and half B (reported), alternating in source order."""
    return sents[0::2], sents[1::2]


# ----------------------------------------------------------------------------- components


def _take(segs: list[str], n_chars: int, seed: int) -> list[str]:
    """A deterministic subsample of fixed text with about ``n_chars`` characters (all if fewer)."""
    order = np.random.default_rng(seed).permutation(len(segs))
    out, n = [], 0
    for i in order:
        if n >= n_chars:
            break
        out.append(segs[i])
        n += len(segs[i])
    return out


class Components:
    """Training text per component, produced on demand (sampled ones are generated once at the
    largest size asked for; a smaller request takes a prefix, itself an i.i.d. sample)."""

    def __init__(self, lang: str, cache: Path):
        self.lang, self.cache = lang, cache
        self._fixed: dict[str, list[str]] | None = None
        self._sampled: dict[str, list[str]] = {}

    def fixed(self) -> dict[str, list[str]]:
        if self._fixed is None:
            cached = self.cache / f"corpus-old-{self.lang}.json"
            if cached.exists():
                srcs = json.loads(cached.read_text("utf-8"))
            else:
                srcs = manual_corpus(self.lang, self.cache)
                cached.write_text(json.dumps(srcs, ensure_ascii=False), "utf-8")
            self._fixed = {
                "manuals": [s for k in sorted(srcs) if k not in ("chinese-poetry", "wordfreq") for s in srcs[k]],
                "poetry": srcs.get("chinese-poetry", []),
            }
        return self._fixed

    def available(self, name: str) -> float:
        return sum(map(len, self.fixed()[name])) if name in ("manuals", "poetry") else float("inf")

    def get(self, name: str, n_chars: int) -> list[str]:
        if name in ("manuals", "poetry"):
            return _take(self.fixed()[name], n_chars, seed=11)
        have = self._sampled.get(name)
        if have is None or sum(map(len, have)) < n_chars:
            have = self._sampled[name] = self._sample(name, n_chars)
        out, n = [], 0
        for s in have:
            if n >= n_chars:
                break
            out.append(s)
            n += len(s)
        return out

    def _sample(self, name: str, n_chars: int) -> list[str]:
        t0 = time.time()
        x = self.cache / "x"
        if name == "wordfreq":
            raw = wordfreq_text(self.lang, n_chars, seed=7 if self.lang == "zh" else 8)
            segs = [seg for ln in raw for seg in normalise_line(ln, min_cjk=0.3)]
        else:
            if name == "libkkc":
                lm = read_arpa(x / SRC_DEBS["libkkc-data"][1], surface=lambda t: t.rsplit("/", 1)[-1])
            elif name == "libime":
                lm = read_arpa(x / Path(SRC_DEBS["libime"][1]).parent / SRC_DEBS["libime"][2])
            elif name == "libpinyin":
                lm = read_libpinyin_counts(x / SRC_DEBS["libpinyin"][1])
            else:
                raise ValueError(name)
            raw = sample_lines(lm, int(n_chars * 1.02), seed=SEEDS[name], punct=PUNCT.get(name))
            del lm
            segs = [seg for ln in raw for seg in normalise_line(ln)]
        print(f"  [{self.lang}] {name}: {len(segs):,} segments, {sum(map(len, segs)):,} chars "
              f"in {time.time() - t0:.0f}s", flush=True)
        return segs


SEEDS = {"libkkc": 21, "libime": 22, "libpinyin": 23}
# libime and libpinyin model text split at punctuation (they have no punctuation tokens): their
# samples are clauses, joined into sentences with a comma and closed by a full stop, question or
# exclamation mark. These are generic proportions for written Chinese, not fitted to any set.
# (libkkc's model has its own 、 and 。 tokens and sentence ends.)
_ZH_PUNCT = Punctuation("，", ("。", "？", "！"), (0.85, 0.08, 0.07))
PUNCT = {"libime": _ZH_PUNCT, "libpinyin": _ZH_PUNCT}


# ----------------------------------------------------------------------------- measuring


def char_logprobs(lm, sents: list[str]) -> np.ndarray:
    """ln p of every character of every sentence, each sentence scored from the line start."""
    out = []
    for s in sents:
        ctx = BOS
        for c in s:
            out.append(lm.score(ctx, c))
            ctx = lm.next_context(ctx, c)
    return np.array(out)


def bpc(lp: np.ndarray) -> float:
    return float(-lp.mean() / np.log(2))


def score_model(model: dict, path: Path, held: dict[str, list[str]], meta=None) -> dict[str, np.ndarray]:
    """Write ``model`` to ``path``, reload it (quantised, as shipped) and score each held-out set."""
    from hwocr.lm import CharLM

    write_lm(path, model, meta=meta or {})
    lm = CharLM.load(path)
    return {k: char_logprobs(lm, v) for k, v in held.items()}


def em_weights(lps: dict[str, np.ndarray], iters: int = 200) -> dict[str, float]:
    """Linear-interpolation weights maximising the likelihood of per-character probabilities."""
    names = sorted(lps)
    P = np.exp(np.stack([lps[n] for n in names]))
    w = np.full(len(names), 1.0 / len(names))
    for _ in range(iters):
        post = w[:, None] * P
        post /= post.sum(0, keepdims=True)
        w = post.mean(1)
    return dict(zip(names, w.tolist()))


def _fmt(w: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.2f}" for k, v in sorted(w.items()) if v > 0)


def build_mixture(lang: str, comp: Components, order: int, tmp: Path, A: list[str], B: list[str],
                  shipped: Path | None, fixed_weights: dict[str, float] | None = None):
    """One model per component, scored on the held-out halves; interpolation weights by EM on
    half A (components under MIN_WEIGHT dropped, EM rerun); the interpolated model, scored.
    Returns (model, weights)."""
    held = {"A": A, "B": B}
    print(f"[{lang}] held-out: A {len(A):,} sentences / {sum(map(len, A)):,} chars (chooses the weights), "
          f"B {len(B):,} / {sum(map(len, B)):,} (reported)", flush=True)
    if shipped is not None and shipped.exists():
        from hwocr.lm import CharLM

        old = CharLM.load(shipped)
        print(f"[{lang}] bits/char  A {bpc(char_logprobs(old, A)):.3f}  B {bpc(char_logprobs(old, B)):.3f}"
              f"  previous model ({shipped}, {shipped.stat().st_size / 1e6:.1f} MB)", flush=True)
    models, lps = {}, {}
    for name, n_chars in SOURCES[lang].items():
        if fixed_weights is not None and fixed_weights.get(name, 0) <= 0:
            continue
        lines = comp.get(name, n_chars)
        got = sum(map(len, lines))
        models[name] = build_model(lines, order, CUTOFF[lang], verbose=False)
        del lines
        lps[name] = score_model(models[name], tmp, held)
        print(f"[{lang}] bits/char  A {bpc(lps[name]['A']):.3f}  B {bpc(lps[name]['B']):.3f}"
              f"  source {name} ({got / 1e6:.1f} M chars, {len(models[name]['keys64']):,} entries)", flush=True)
    if fixed_weights is not None:
        w = {k: fixed_weights[k] for k in models}
    else:
        w = em_weights({k: v["A"] for k, v in lps.items()})
        print(f"[{lang}] EM weights on A: {_fmt(w)}", flush=True)
        while min(w.values()) < MIN_WEIGHT and len(w) > 1:
            drop = min(w, key=w.get)
            print(f"[{lang}] dropping {drop} (weight {w[drop]:.3f} < {MIN_WEIGHT})", flush=True)
            del models[drop], lps[drop]
            w = em_weights({k: v["A"] for k, v in lps.items()})
            print(f"[{lang}] EM weights on A: {_fmt(w)}", flush=True)
    z = sum(w.values())
    w = {k: v / z for k, v in w.items()}
    names = sorted(w)
    if fixed_weights is None and len(names) > 1:  # what each source adds (EM refitted without it)
        for drop in names:
            rest = {k: lps[k] for k in names if k != drop}
            wr = em_weights({k: v["A"] for k, v in rest.items()})
            Pa = sum(wr[k] * np.exp(rest[k]["A"]) for k in rest)
            Pb = sum(wr[k] * np.exp(rest[k]["B"]) for k in rest)
            print(f"[{lang}] bits/char  A {bpc(np.log(Pa)):.3f}  B {bpc(np.log(Pb)):.3f}  (interpolation "
                  f"without {drop}: {_fmt(wr)})", flush=True)
    for half in "AB":
        P = sum(w[k] * np.exp(lps[k][half]) for k in names)
        print(f"[{lang}] bits/char  {half} {bpc(np.log(P)):.3f}  (per-character interpolation of the "
              f"source models, {_fmt(w)})", flush=True)
    model = interpolate_models([models[k] for k in names], [w[k] for k in names], verbose=False)
    return model, w


# ----------------------------------------------------------------------------- licences

LICENCES = {
    "libime": ("Debian source libime 1.0.16-1, data/lm_sc.arpa-20220810 (word trigram, sampled)",
               "LGPL-2.1-or-later", "Copyright (C) the libime authors (Weng Xuetian et al.)"),
    "libpinyin": ("Debian source libpinyin 2.8.1-1, data/interpolation2.text (word bigram counts, sampled)",
                  "GPL-3.0-or-later", "Copyright (C) the libpinyin authors (Peng Wu et al.)"),
    "libkkc": ("Debian source libkkc-data 0.2.7-5, data/models/text3/data.arpa (word trigram, surfaces sampled)",
               "GPL-3.0-or-later", "Copyright (C) the libkkc authors (Daiki Ueno et al.)"),
    "wordfreq": ("PyPI wordfreq 3.1.1 word frequencies (pseudo-text)", "CC-BY-SA-4.0",
                 "wordfreq data (C) Robyn Speer et al."),
    "manuals-zh": ("Debian manuals, man pages and fortunes-zh (list in scripts/LM_SOURCES.md)",
                   "GPL-2.0-or-later AND GPL-3.0-or-later AND GFDL-1.2-or-later AND MPL-2.0 AND CC-BY-SA-3.0",
                   "the Debian, GNOME, GIMP and LibreOffice documentation authors"),
    "manuals-ja": ("Debian manuals and man pages (list in scripts/LM_SOURCES.md)",
                   "GPL-2.0-or-later AND GFDL-1.2-or-later AND GFDL-1.3-or-later AND MPL-2.0 AND CC-BY-SA-3.0 "
                   "AND LicenseRef-manpages-ja-per-page-DFSG-free",
                   "the Debian, GNOME, GIMP, LibreOffice, LilyPond and JM project documentation authors"),
    "poetry": ("npm chinese-poetry 2.0.1", "MIT", "the chinese-poetry contributors"),
}


def licence_meta(lang: str, weights: dict[str, float]) -> dict:
    used = [k for k in sorted(weights) if weights[k] > 0]
    info = {k: LICENCES.get(k) or LICENCES[f"{k}-{lang}"] for k in used}
    parts = [p for k in used for p in info[k][1].split(" AND ")]
    return dict(
        licence=" AND ".join(dict.fromkeys(parts)),
        licence_note="character n-gram statistics derived from the sources below; the file is "
                     "distributed under the terms of each source's licence (see scripts/LM_SOURCES.md)",
        sources=[dict(name=k, source=info[k][0], licence=info[k][1], attribution=info[k][2],
                      share=round(weights[k], 3)) for k in used],
    )


# ----------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", choices=["zh", "ja"], action="append")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "lm-sources")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "hwocr" / "data")
    ap.add_argument("--order", type=int, default=ORDER)
    ap.add_argument("--no-fetch", action="store_true")
    ap.add_argument("--weights", help="skip the EM search, e.g. 'libime=0.5,wordfreq=0.5'")
    args = ap.parse_args(argv)
    langs = args.lang or ["zh", "ja"]
    if not args.no_fetch:
        fetch(args.cache, langs)
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        t0 = time.time()
        comp = Components(lang, args.cache)
        A, B = split_heldout(heldout(lang, args.cache))
        path = args.out / f"lm-{lang}.bin"
        tmp = args.cache / f"tmp-{lang}.bin"
        fixed = None
        if args.weights:
            fixed = {k: float(v) for k, v in (x.split("=") for x in args.weights.split(","))}
        model, w = build_mixture(lang, comp, args.order, tmp, A, B, path, fixed)
        meta = dict(lang=lang, order=args.order, **licence_meta(lang, w))
        r = score_model(model, path, {"A": A, "B": B}, meta)
        print(f"[{lang}] bits/char  A {bpc(r['A']):.3f}  B {bpc(r['B']):.3f}  shipped model {path} "
              f"({path.stat().st_size / 1e6:.1f} MB, {len(model['keys64']):,} entries, {_fmt(w)}) "
              f"in {time.time() - t0:.0f}s", flush=True)
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
