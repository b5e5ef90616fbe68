"""Charlists (index -> character) and per-language character sets derived from Python's codecs."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .errors import ModelError

BLANK = ""  # the CTC blank at index 0 decodes to nothing

LANGS = ("zh", "ja")
#: "auto" reads with both languages' characters and decides per line (:func:`detect_language`)
AUTO = "auto"
LANG_CHOICES = (AUTO, *LANGS)


#: the largest charlist (or --allow list) read: several million entries
MAX_CHARLIST_BYTES = 64 << 20


def read_charlist(path: str | Path, what: str = "charlist") -> list[str]:
    """Read a charlist file (one symbol per line, UTF-8) as-is: never normalise it.

    Only the line terminator is stripped; the OMZ lists have no whitespace entries.
    A UTF-8 BOM on the first line is dropped. Empty lines are an error (they would shift indices).
    ``what`` names the file in errors.
    """
    from .files import read_small

    p = Path(path)
    raw = read_small(p, what, MAX_CHARLIST_BYTES, ModelError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{p}: {what} is not UTF-8 text") from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = [ln.removesuffix("\r") for ln in lines]
    for i, s in enumerate(out):
        if s == "":
            raise ModelError(f"{p}: {what} line {i + 1} is empty")
    if not out:
        raise ModelError(f"{p}: {what} is empty")
    return out


def _encodes(c: str, codec: str, nbytes: int | None = None) -> bool:
    try:
        b = c.encode(codec)
    except UnicodeEncodeError:
        return False
    return nbytes is None or len(b) == nbytes


def _is_han(c: str) -> bool:
    return unicodedata.name(c, "").startswith("CJK UNIFIED IDEOGRAPH") or c == "〇"


def _is_ascii_printable(c: str) -> bool:
    return " " <= c <= "~"


def _is_fullwidth_ascii(c: str) -> bool:
    return "\uff01" <= c <= "\uff5e"


def _is_punct_symbol_digit(c: str) -> bool:
    cat = unicodedata.category(c)
    if "\u2500" <= c <= "\u257f":  # box drawing is never handwritten
        return False
    return cat[0] in ("P", "S", "N") or c in "\u3000"


def _is_latin(c: str) -> bool:
    return unicodedata.name(c, "").startswith("LATIN ")


def _zh(c: str) -> bool:
    if len(c) != 1:
        return False
    if _is_ascii_printable(c) or _is_fullwidth_ascii(c):
        return True
    if not _encodes(c, "gb2312"):
        return False
    return _is_han(c) or _is_punct_symbol_digit(c) or _is_latin(c)


def _is_kana(c: str) -> bool:
    n = unicodedata.name(c, "")
    return n.startswith(("HIRAGANA", "KATAKANA")) and not n.startswith("HALFWIDTH") or c in "ー゛゜ゝゞヽヾ々〆"


def _ja(c: str) -> bool:
    if len(c) != 1:
        return False
    if _is_ascii_printable(c) or _is_fullwidth_ascii(c):
        return True
    # JIS X 0208 = the two-byte part of Shift_JIS
    if not _encodes(c, "shift_jis", 2):
        return False
    return _is_han(c) or _is_kana(c) or _is_punct_symbol_digit(c) or _is_latin(c)


def _any(c: str) -> bool:
    return _zh(c) or _ja(c)


def language_filter(lang: str) -> Callable[[str], bool]:
    """Return a predicate telling whether a character belongs to ``lang`` ("zh", "ja", or "auto":
    either)."""
    if lang == "zh":
        return _zh
    if lang == "ja":
        return _ja
    if lang == AUTO:
        return _any
    raise ModelError(f"unknown language {lang!r} (expected one of: {', '.join(LANG_CHOICES)})")


def is_han(c: str) -> bool:
    """A CJK unified ideograph (hanzi / kanji) or 〇."""
    return _is_han(c)


def is_kana(c: str) -> bool:
    """Hiragana or katakana (not the prolonged-sound mark or iteration marks, which a Chinese
    line can seem to hold: ー looks like 一)."""
    return "\u3041" <= c <= "\u3096" or "\u30a1" <= c <= "\u30fa"


@dataclass(frozen=True)
class LangEvidence:
    """What a reading without restriction says about a line's language: its kana, its characters
    only Japanese writes (JIS X 0208 but not GB2312: 広, 売, 円...) and those only simplified
    Chinese writes."""

    #: sure characters (each 1 at most: :data:`SURE_ODDS`) of each kind in the reading
    kana: float = 0.0
    ja_only: float = 0.0
    zh_only: float = 0.0
    #: for lines the characters leave undecided: the probability the model puts on kana and
    #: Japanese-only kanji, and on Chinese-only hanzi, summed over frames
    ja_mass: float = 0.0
    zh_mass: float = 0.0

    def __add__(self, o: "LangEvidence") -> "LangEvidence":
        return LangEvidence(self.kana + o.kana, self.ja_only + o.ja_only, self.zh_only + o.zh_only,
                            self.ja_mass + o.ja_mass, self.zh_mass + o.zh_mass)

    @classmethod
    def of(cls, text: str, sure: Sequence[float] | None = None) -> "LangEvidence":
        """The evidence of a reading, each character weighted by how sure it is (default: fully)."""
        kana = ja = zh = 0.0
        for c, w in zip(text, [1.0] * len(text) if sure is None else sure, strict=True):
            if is_kana(c):
                kana += w
            elif _is_han(c) and _ja(c) != _zh(c):
                ja, zh = (ja + w, zh) if _ja(c) else (ja, zh + w)
        return cls(kana, ja, zh)

    @property
    def ja_side(self) -> float:
        """The evidence for Japanese in Chinese-only characters' worth: kana, and each Japanese-only
        kanji :data:`JA_ONLY_WEIGHT` times."""
        return self.kana + JA_ONLY_WEIGHT * self.ja_only

    @property
    def decisive(self) -> float:
        """By how much the evidence for one language exceeds the other's (:attr:`ja_side` against the
        Chinese-only hanzi): 4 Chinese-only hanzi and 2 Japanese-only kanji (worth 3) is 1."""
        return abs(self.ja_side - self.zh_only)

    def language(self) -> str:
        """ja when the kana and Japanese-only kanji (:attr:`ja_side`) outweigh the Chinese-only hanzi,
        zh when these outweigh them; when they are level (shared kanji only: 日本, 山), the language
        whose own characters hold more probability; zh on a tie. A kana counts like the rest: a
        Chinese line of 4.5 sure Chinese-only hanzi and one kana at 4% (a photo's 20-character line)
        is Chinese; "any kana means Japanese" read it as Japanese, 5 characters wrong."""
        ja = self.ja_side
        if ja != self.zh_only:
            return "ja" if ja > self.zh_only else "zh"
        return "ja" if self.ja_mass > self.zh_mass else "zh"


#: how sure a character of one language's own (a kana, a Japanese-only kanji, a Chinese-only hanzi) is
#: as evidence: fully when the other language's best character at its peak frame holds at most 1/SURE_ODDS
#: of its probability, log(odds) / log(SURE_ODDS) of a character below that, nothing when the other
#: language reads it as well. A Japanese line's 錯 read as 错 at 0.6 with 錯 at 0.3 counts 0.18: the model
#: tells 钅 from 金 poorly in a small or blurred hand. Chosen with ``benchmarks/tune.py --stage dec
#: --sure-odds`` (pooled validation draws and dev sets, bf16 and f32): with odds 50, 100 or 1000 lang
#: auto reads every set as the right --lang does (counting every character fully left pooled ja-rand
#: 0.14 points below, odds 20 0.02); where a set's lines are the minority of a call in the other
#: language, 50 costs least against counting fully (worst -0.02 points; 100: -0.11, 1000: -0.50)
SURE_ODDS = 50.0
#: a sure Japanese-only kanji is evidence worth this many sure Chinese-only hanzi. The model, trained
#: mostly on Chinese, reads a Japanese kanji's full form as its simplified variant (錯 as 错, 綿 as 编)
#: far more often than a simplified hanzi as a full form: on the validation draws (f32) a Chinese line
#: reads 0.00065 sure Japanese-only kanji per character, a kanji-only Japanese line 0.014 sure
#: Chinese-only hanzi (log-likelihood ratios 5.8 and 2.8 per character). Chosen with
#: ``benchmarks/tune.py --stage dec --ja-weight`` (README, "--lang auto"): 1 to 1.75 read every
#: validation and dev set as one call as the right --lang does, 2 and up cost an isolated hanzi read as
#: a Japanese-only kanji; as the minority of a call in the other language, pooled ja-rand gains 1.9
#: points at 1.5; 1 (the rule before) left the photo draw's ja-rand 0.74 points below --lang ja, 1.5 0.37
JA_ONLY_WEIGHT = 1.5
#: a line whose reading's evidence for one language exceeds the other's by at most this many sure characters
#: (:attr:`LangEvidence.decisive`) is "weak": with lang auto it follows the language most lines of the
#: same call read as (``benchmarks/tune.py --stage dec``, auto table: with the margin auto reads every
#: validation and dev set as the right --lang does, at bf16 and f32; counting the evidence instead of its
#: margin left ja-rand 0.19 points below)
WEAK_DECISIVE = 1
#: ... when more than this share of the call's lines agree (``benchmarks/tune.py --doc-share``: 0.5 and
#: 0.6 tie on every validation and dev set at both precisions, 0.7 costs ja-char 0.5 points at f32; a
#: phone-photo style draw, never tuned on, broke the tie: with 0.6 a quarter of its isolated Japanese
#: kanji were read as Chinese, 1.0 point below --lang ja; with 0.5 none)
DOCUMENT_MAJORITY = 0.5


#: a line whose evidence for one language exceeds the other's by at least this many sure characters (a
#: sure kana: の) keeps its language against the caller's hint, which speaks of text the call does not
#: hold (the call's own majority, in the call, still takes such a line: :data:`WEAK_DECISIVE`). Simulated
#: on every dev and validation draw read one line per call (bf16): with the right hint every set reads
#: within one character in 200 of the right --lang; a wrong hint (a user who changes language) costs
#: the real ja-chars 39 points, against 89 if a sure kana followed the hint too
HINT_DECISIVE = 1.0
#: what decided a line's language with lang auto (``LineResult.lang_by``): its own characters (more
#: than :data:`WEAK_DECISIVE` sure characters of margin), the caller's hint, the majority of the lines
#: read with it, or, with none of these, its own weak evidence or probability mass (a guess)
BY_EVIDENCE, BY_HINT, BY_DOCUMENT, BY_GUESS = "evidence", "hint", "document", "guess"
#: ... on a page: a block that says little took the majority of the page's blocks that decide
BY_PAGE = "page"


@dataclass
class DocumentLanguage:
    """The languages the lines of one call (a folder, a list of images) were read as: lines that say
    little themselves (isolated characters, a lone kana lookalike) take the call's majority, since
    the lines handed over together are nearly always of one language (a strict majority: a tie
    decides nothing). ``hint`` (zh or ja) is what the caller knows of the text around the call (the
    lines written before it on a pad): a weak line with less than :data:`HINT_DECISIVE` of margin takes
    it instead of the call's majority."""

    votes: dict[str, int] = field(default_factory=dict)
    share: float = DOCUMENT_MAJORITY
    hint: str | None = None

    def add(self, lang: str) -> None:
        self.votes[lang] = self.votes.get(lang, 0) + 1

    def language(self, ev: LangEvidence) -> str:
        return self.decide(ev)[0]

    def decide(self, ev: LangEvidence) -> tuple[str, str]:
        """(language, what decided it: :data:`BY_EVIDENCE`, :data:`BY_HINT`, :data:`BY_DOCUMENT` or
        :data:`BY_GUESS`) of a line with evidence ``ev``."""
        own = ev.language()
        if ev.decisive > WEAK_DECISIVE:
            return own, BY_EVIDENCE
        sure = BY_EVIDENCE if ev.decisive >= HINT_DECISIVE else BY_GUESS
        if self.hint:
            return (own, sure) if sure == BY_EVIDENCE else (self.hint, BY_HINT)
        n = sum(self.votes.values())
        if n:
            top = max(self.votes, key=self.votes.get)
            if self.votes[top] >= self.share * n and 2 * self.votes[top] > n:
                return top, BY_DOCUMENT if n > 1 else sure  # one vote: the line's own, read alone
        return own, sure


def block_languages(evidence: dict[int, LangEvidence], hint: str | None = None) -> dict[int, tuple[str, str]]:
    """Page blocks' languages, ``{block: (language, what decided it)}`` from ``{block: LangEvidence}``:
    a block whose lines decide keeps its language (``evidence``); one that says little (a name field,
    an isolated kanji) takes the hint, or else the strict majority of the blocks that do decide
    (``page``), or else its own weak evidence (``guess``)."""
    doc = DocumentLanguage(hint=hint)
    sure = [ev.language() for ev in evidence.values() if ev.decisive > WEAK_DECISIVE]
    top = max(set(sure), key=sure.count) if sure else None
    page = top if sure and 2 * sure.count(top) > len(sure) else None
    out = {}
    for g, ev in evidence.items():
        lang, by = doc.decide(ev)
        out[g] = (page, BY_PAGE) if page and by == BY_GUESS else (lang, by)
    return out


def own_class_masks(charset) -> dict[str, "np.ndarray"]:
    """Per language, the classes only it writes: kana and Japanese-only kanji; Chinese-only hanzi."""
    import numpy as np

    def own(c: str, lang: str) -> bool:
        if lang == "ja" and is_kana(c):
            return True
        return len(c) == 1 and _is_han(c) and (_ja(c) and not _zh(c) if lang == "ja" else _zh(c) and not _ja(c))

    return {k: np.fromiter((own(c, k) for c in charset), dtype=bool, count=len(charset)) for k in LANGS}


def detect_language(text: str) -> str:
    return LangEvidence.of(text).language()
