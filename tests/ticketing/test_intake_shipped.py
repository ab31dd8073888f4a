"""The labelled data in data/intake/ and the model shipped with the repository.

The training set must be clean (valid labels, no duplicates, nothing from the evaluation
sets); the shipped model must be the one the service uses on a fresh install with the
shipped settings, must be verified before it is loaded, and must catch life-safety calls it
has never seen: the two issue-15 misses and the urgent and emergency lines of the evaluation
files (``evaluation_sources``). The older held-out files are training sources
(``shipped_sources``): heldout.tsv and heldout-2 .. -12 since the sixteenth round of issue 15,
heldout-13 .. -17 since the twenty-third, with train-23.tsv, heldout-18 .. -22 since the
twenty-sixth.
"""

from __future__ import annotations

import json
import lzma
import os
import pickle
import re
import shutil
import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from config import Settings, get_settings
from hotline.cli import app as cli
from tests.conftest import SHARED
from ticketing.classify import (
    EMERGENCY_SERVICES,
    KINDS,
    URGENCY_LEVELS,
    classify,
    known_categories,
)
from ticketing.classify import load_rules as load_classification
from ticketing.context import Domain
from ticketing.intake_model import (
    MAGIC,
    SHIPPED_DIR,
    IntakeModel,
    LabelledText,
    ModelStore,
    Understanding,
    data_hash,
    decode_artifact,
    encode_artifact,
    evaluation_sources,
    read_labelled,
    shipped_sources,
    understand,
)

ROOT = Path(__file__).resolve().parents[2]
INTAKE = ROOT / "data" / "intake"
TRAIN = INTAKE / "train.tsv"
SHARED_FILES = [SHARED / "corpus" / "complaints.tsv", SHARED / "corpus" / "complaints-2.tsv"]
# The project's own training files: train.tsv, the held-out files written apart from it and
# then blind, one a round, up to the twenty-second round (their writers and first scores:
# docs/classification.md; training sources since the sixteenth, twenty-third and
# twenty-sixth rounds), and train-23.tsv, written blind for training.
TRAINING = [path for path in shipped_sources() if path not in SHARED_FILES]
# What the shipped model is scored on and never trained on.
EVALUATION = evaluation_sources()
BENCH_HELDOUT = ROOT / "bench" / "data" / "heldout.tsv"
# The look-alike probes of calm and dangerous calls, written blind one a round since the
# twenty-third round and scored as evaluation data ever since.
CALM_PROBES = sorted((ROOT / "bench" / "data").glob("calm-probe-*.tsv"))
HEADER = "text\tcategory\turgency\tdistrict\tkind\temergency"

# The two misses of the external measurement quoted in issue 15 (in no data file).
ISSUE_MISSES = [
    "一栋楼的电梯下坠，把两个人关在里面了，现在还没救出来",
    "护栏断了好几米，旁边就是小学，很危险",
]

runner = CliRunner()


def _key(text: str) -> str:
    # The same complaint with other spaces or punctuation is the same complaint.
    return re.sub(r"[\s\W_]+", "", text)


def _trigrams(text: str) -> set[str]:
    key = _key(text)
    return {key[i:i + 3] for i in range(len(key) - 2)}


@pytest.fixture(scope="session")
def shipped() -> IntakeModel:
    """The shipped model as a fresh install loads it (once per session)."""
    model = ModelStore(Path("/nonexistent-data-dir"), shipped=SHIPPED_DIR).load_current()
    assert model is not None
    return model


@pytest.fixture(scope="session")
def evaluation() -> list[LabelledText]:
    return [r for path in EVALUATION for r in read_labelled(path)]


# --------------------------------------------------------------------------- the data


@pytest.mark.parametrize("path", [*TRAINING, *EVALUATION], ids=lambda path: path.stem)
def test_labelled_files_are_valid(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER
    categories = set(known_categories())
    districts = set(load_classification().districts) | {""}
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        assert len(cells) == 6 and cells[0].strip(), f"{path.name}:{n}"
        _, category, urgency, district, kind, emergency = cells
        assert category in categories, f"{path.name}:{n}: {category}"
        assert urgency in URGENCY_LEVELS and kind in KINDS, f"{path.name}:{n}"
        assert emergency in EMERGENCY_SERVICES and district in districts, f"{path.name}:{n}"
        # A hand-over to 110/119/120 is life or property safety by definition.
        assert emergency == "none" or urgency == "urgent", f"{path.name}:{n}"
    keys = [_key(line.split("\t")[0]) for line in lines[1:]]
    assert len(keys) == len(set(keys)), "duplicate texts"


def test_each_held_out_file_is_trained_on_or_scored_never_both() -> None:
    """The two lists of ``ticketing.intake_model`` share no file, and every held-out file of
    data/intake is in one of them: a new blind file named in neither would be checked by
    nothing here and scored by no bench."""
    training, evaluation = set(shipped_sources()), set(evaluation_sources())
    assert evaluation and not training & evaluation
    named_in_neither = set(INTAKE.glob("heldout*.tsv")) - training - evaluation
    assert not named_in_neither, sorted(path.name for path in named_in_neither)


def test_training_set_is_large_and_covers_every_label() -> None:
    rows = read_labelled(TRAIN)
    assert len(rows) >= 1500
    for name, values, least in (("category", known_categories(), 60),
                                ("urgency", URGENCY_LEVELS, 150),
                                ("kind", KINDS, 60),
                                ("emergency", EMERGENCY_SERVICES, 80)):
        counts = {v: sum(r.labels[name] == v for r in rows) for v in values}
        assert min(counts.values()) >= least, (name, counts)


# Checks over whole files (every training line against every evaluation line; the shipped
# model on every line of each evaluation file) are heavy by nature: the whole suite only
# (marker "slow", not `scripts/test.sh --fast`). The fast tier keeps each file's format,
# labels and duplicates, the training and evaluation lists apart, the labelling boundaries,
# and the shipped model on the issue's misses, procedural questions and the question guard.
@pytest.mark.slow
def test_training_set_shares_nothing_with_the_evaluation_sets() -> None:
    """No line of the evaluation files, the bench held-out file, the calm probes or the shared
    corpus is in the project's training sources, nor a near copy of one (most of its
    character trigrams in common)."""
    assert CALM_PROBES
    train = [r.text for path in TRAINING for r in read_labelled(path)]
    others = [r.text for path in [*EVALUATION, BENCH_HELDOUT, *CALM_PROBES, *SHARED_FILES]
              for r in read_labelled(path)]
    assert not {_key(t) for t in train} & {_key(t) for t in others}
    other_grams = [_trigrams(t) for t in others]
    # Which other texts hold each trigram: only those that share one are compared (the same
    # Jaccard as against all of them, in a fraction of the time).
    holders: dict[str, list[int]] = {}
    for i, grams in enumerate(other_grams):
        for gram in grams:
            holders.setdefault(gram, []).append(i)
    for text in train:
        mine = _trigrams(text)
        shared = Counter(i for gram in mine for i in holders.get(gram, ()))
        closest = max((n / (len(mine) + len(other_grams[i]) - n) for i, n in shared.items()),
                      default=0.0)
        assert closest < 0.4, text


# Situations docs/labelling.md gives one category (C1, C4, C5, C7, C10, C11, C13), told by
# words that leave no doubt which situation a line is; the other reading is named where it
# exists. Only urgent and livelihood lines are checked unless a case names the levels: calm
# lines in these situations are often about something else (a price, a policy, a purchase).
URGENT_OR_LIVELIHOOD = ("urgent", "livelihood")
BOUNDARIES = [
    # C4: what may fall from the outside of a block is housing, whoever owns it.
    ("housing", re.compile(r"(空调外机|外机)的?架子?.{0,6}(锈|断|歪|掉)|太阳能热水器.{0,8}(锈|松|歪|悬|晃)"
                           r"|保温(板|层).{0,8}掉|冰溜子"), None),
    # C4: adding a lift to an old block is the housing authority's retrofit, whatever the
    # call asks (the corpus's subsidy line); a lift in service is property (C1).
    ("housing", re.compile(r"加装电梯"), None, ("general", *URGENT_OR_LIVELIHOOD)),
    # C1: e-bikes charging in the stairwell, off a cable from a window, or on fire is fire
    # safety (security), as the corpus's cable from a third-floor window; the property
    # company's charging posts and sheds, and the price of power, are not this situation.
    ("security", re.compile(r"电动车.{0,10}(充电|着火|着了|起火|冒烟|烧起来)|给电动车充电"),
     re.compile(r"充电桩|充电棚|充电口|电价")),
    # C5: heating that fails is heating, electric radiators that trip and a school's alike.
    ("heating", re.compile(r"(电暖器|电暖气|电采暖).{0,12}(跳闸|不热)|(宿舍|教室|学校).{0,6}暖气.{0,6}(不热|停)"),
     re.compile(r"买|退货|商家|质量|着火")),
    # C10: a building site's crane is housing unless the call is about its workers.
    ("housing", re.compile(r"塔吊.{0,12}(晃|转|吊)"), re.compile(r"工资|讨薪|工钱|无证|司机")),
    # C7: someone acutely ill or injured at work now is health (the ambulance acts).
    ("health", re.compile(r"(工友|工人|有个人).{0,16}(掉下来|中暑|倒在地上|抽搐|流了一地|没醒)"),
     re.compile(r"工资|医药费|工伤|不给|扣|赔|老板还不让|挂在|压着")),  # pay; or a rescue
    # C11: a fall on one's own off a bike is health; a collision is traffic, a fall caused
    # by a broken way is the way's (municipal), someone lost in the hills a rescue (C2).
    ("health", re.compile(r"骑.{0,6}摔"), re.compile(r"撞|剐|司机|刹车|井盖|坑|山里")),
    # C13: a block's or an estate's own drains backing up are the property company's; a
    # street's, a hutong's or a courtyard's sewer is municipal (not told by these words).
    ("property", re.compile(r"(单元|楼|小区)(里|里的|的)?(化粪池|排水立管|下水主管|总下水管|下水管道?"
                            r"|下水道|污水管)(堵|满|反|返)"), re.compile(r"没上来|掉进|下去")),
]


@pytest.mark.parametrize("case", BOUNDARIES,
                         ids=["C4-facade", "C4-lift-retrofit", "C1-e-bikes", "C5-heating",
                              "C10-crane", "C7-acute-at-work", "C11-own-fall",
                              "C13-block-drains"])
def test_training_labels_follow_the_category_boundaries(case: tuple[Any, ...]) -> None:
    """A training line in one of these situations carries the guide's category: two labels
    for one situation teach the model nothing but the split (issue 15, ninth round)."""
    category, cue, unless, *levels = case
    urgencies = levels[0] if levels else URGENT_OR_LIVELIHOOD
    rows = [r for r in read_labelled(TRAIN) if r.labels["urgency"] in urgencies
            and cue.search(r.text) and not (unless and unless.search(r.text))]
    assert rows, "no training line in this situation"
    wrong = [(r.labels["category"], r.text[:30]) for r in rows
             if r.labels["category"] != category]
    assert not wrong


# --------------------------------------------------------------------------- shipped model


def test_a_fresh_install_uses_the_shipped_model(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    domain = Domain.load(Settings(data_dir=tmp_path))  # shipped settings, empty data dir
    assert domain.model is not None and domain.model.info["origin"] == "shipped"
    got = domain.understand("朝阳区望京西园三区5号楼停水一天了")
    assert (got.category, got.urgency, got.district, got.source) == (
        "water", "livelihood", "朝阳区", "model")
    assert set(got.confidence) == {"category", "urgency", "kind", "emergency"}

    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        out = runner.invoke(cli, ["classify", "status"]).output
    finally:
        get_settings.cache_clear()
    assert "in use: shipped model" in out and str(SHIPPED_DIR) in out


def test_the_shipped_model_is_the_committed_data() -> None:
    """The manifest names the artifact's hash and the data it was trained on: the committed
    training set and the shared corpus, as they are now."""
    manifest = json.loads((SHIPPED_DIR / "manifest.json").read_text(encoding="utf-8"))
    rows = [r for path in shipped_sources() for r in read_labelled(path)]
    assert manifest["data_sha256"] == data_hash(rows) and manifest["rows"] == len(rows)
    assert manifest["sources"] == ["data/intake/train.tsv", "data/intake/heldout.tsv",
                                   *(f"data/intake/heldout-{n}.tsv" for n in range(2, 23)),
                                   "data/intake/train-23.tsv",
                                   "../shared/corpus/complaints.tsv",
                                   "../shared/corpus/complaints-2.tsv"]
    artifact = SHIPPED_DIR / manifest["file"]
    # The artifact grows with what it was trained on: the vocabularies take the n-grams of
    # the texts (fewer new ones per text as the texts grow) and the linear weights one row
    # per n-gram. A fixed limit was raised each time held-out files were folded in (5 MB
    # until the sixteenth round, 7.5 MB until the twenty-third, 9 MB in the twenty-sixth),
    # so it is tied to the rows: 2 MB plus 700 bytes a text. That line has no derivation: it
    # is a straight line through the four shipped models (4,012 texts 4.29 MB, 7,354 6.68,
    # 9,332 7.77, 10,813 8.53 MB; about 1.8 MB + 625 bytes a text) plus about 10 %, each of
    # them 7-11 % under it. It catches a model that grows much faster than its data near
    # today's size (a new feature block, a wider n-gram range, weights kept dense); the cost
    # of a text falls (1,070 -> 790 bytes), so the line loosens as the data grows, and far
    # from 10,000 texts it says little (review67). Refit it when the data grows by half.
    assert artifact.stat().st_size == manifest["bytes"] < _model_bytes_limit(manifest["rows"])


def _model_bytes_limit(rows: int) -> int:
    return 2_000_000 + 700 * rows


@pytest.mark.parametrize(("rows", "shipped_bytes"), [
    (4_012, 4_290_000), (7_354, 6_680_000), (9_332, 7_770_000), (10_813, 8_532_429),
])
def test_every_shipped_model_so_far_lies_under_the_size_limit(rows: int,
                                                               shipped_bytes: int) -> None:
    assert shipped_bytes < _model_bytes_limit(rows) < shipped_bytes * 1.25


def test_a_tampered_shipped_model_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_DIR, copy)
    artifact = copy / json.loads((copy / "manifest.json").read_text(encoding="utf-8"))["file"]
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        ModelStore(tmp_path / "classifier", shipped=copy).load_current()


class _Ran:
    """Unpickled, it makes a directory: the sign that a file's pickle was run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def test_a_replaced_shipped_model_is_refused_before_it_is_unpickled(tmp_path: Path) -> None:
    """Format 3 (load29): the file's SHA-256 is checked before any byte of it is read as a
    pickle, so a file put in the artifact's place runs nothing, even one in the format."""
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_DIR, copy)
    marker = tmp_path / "ran"
    head = lzma.compress(pickle.dumps(_Ran(marker), protocol=5))
    artifact = copy / json.loads((copy / "manifest.json").read_text(encoding="utf-8"))["file"]
    artifact.write_bytes(MAGIC + struct.pack("<Q", len(head)) + head + zlib.compress(b""))
    with pytest.raises(ValueError, match="SHA-256"):
        ModelStore(tmp_path / "classifier", shipped=copy).load_current()
    assert not marker.exists()


def test_the_artifact_format_keeps_the_shipped_model_whole(shipped: IntakeModel) -> None:
    """Format 3 (load29) written and read back is the same model, every number equal, and
    written again the same bytes (so ``hotline classify ship --folds 0`` on the same data
    reproduces the file: the training is deterministic)."""
    import numpy as np

    data = encode_artifact(shipped)
    vocabularies, fields = decode_artifact(data)
    for before, after in zip(shipped.vocabularies, vocabularies, strict=True):
        assert (before.analyzer, before.longest, before.vocabulary) == (
            after.analyzer, after.longest, after.vocabulary)
        assert np.array_equal(before.idf, after.idf) and before.idf.dtype == after.idf.dtype
    assert list(fields) == sorted(shipped.fields)
    for name, before in shipped.fields.items():
        after = fields[name]
        assert (before.classes, before.temperature) == (after.classes, after.temperature)
        for a, b in ((before.coef, after.coef), (before.intercept, after.intercept)):
            assert a.dtype == b.dtype and a.strides == b.strides and np.array_equal(a, b)
    assert encode_artifact(IntakeModel(vocabularies, fields)) == data


def test_a_city_model_wins_and_an_unreadable_one_falls_back_to_the_shipped(
    tmp_path: Path,
) -> None:
    store = ModelStore(tmp_path / "classifier")
    store.directory.mkdir(parents=True)
    (store.directory / "current.json").write_text(json.dumps(
        {"file": "model-0001.joblib", "version": 1, "sha256": "0" * 64}))
    (store.directory / "model-0001.joblib").write_bytes(b"not a model")
    assert store.current_info()["origin"] == "trained"
    model = Domain.load(Settings(data_dir=tmp_path)).model
    assert model is not None and model.info["origin"] == "shipped"


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("text", ISSUE_MISSES)
def test_the_issue_misses_are_urgent(text: str, shipped: IntakeModel) -> None:
    got = understand(text, load_classification(), shipped)
    assert got.urgency == "urgent"


@pytest.mark.parametrize("text", [
    "身分证快到期了要去哪里换",  # issue 15: the old threshold made this urgent
    "护照下个月过期，到哪儿能补办，要带什么",
    "老年卡丢了去哪里补，急着坐公交",
    "残疾证到期了怎么换证，要不要再去医院",
])
def test_a_procedural_question_is_not_urgent(text: str, shipped: IntakeModel) -> None:
    """Where or how to do paperwork is a question, not a danger: the recall-favouring
    thresholds do not apply to it (``IntakeModel.predict``)."""
    got = understand(text, load_classification(), shipped)
    assert got.urgency != "urgent" and got.emergency == "none", got


@pytest.mark.parametrize(("text", "category"), [
    # Written for this test (cues23): "X，不是，是Y" files the call under Y, for the model too;
    # the hand-over still reads the whole call.
    ("嗯那个燃气，不是，是楼下那个配电室，一直嗡嗡响，往外冒火花，有股胶皮味儿", "power"),
    ("那个 燃气 不是 是 我们 单元 的 电表箱 一直 冒 火花 有 股 糊味", "power"),
])
def test_a_self_correction_files_the_call_under_what_was_meant(
        text: str, category: str, shipped: IntakeModel) -> None:
    got = understand(text, load_classification(), shipped)
    assert (got.category, got.emergency) == (category, "119"), got


def test_the_question_guard_never_lowers_what_the_rules_raise(shipped: IntakeModel) -> None:
    """A question with a life-safety cue in it stays urgent and is handed over."""
    rules = load_classification()
    text = "楼道里着火了，灭火器去哪里领"
    assert any(m.startswith("kind.procedure:") for m in classify(text, rules).matched)
    got = understand(text, rules, shipped)
    assert (got.urgency, got.emergency) == ("urgent", "119")


# The shipped model's decisions on the evaluation files, once a process: the floors (one
# file a test) and the named emergencies (every file's emergency lines) ask the same model
# the same lines, and both sit in one xdist group, so one worker decides each line once.
_DECIDED: dict[Path, list[tuple[Understanding, LabelledText]]] = {}
HELD_OUT = pytest.mark.xdist_group("held-out-decisions")


def _decided(path: Path, shipped: IntakeModel) -> list[tuple[Understanding, LabelledText]]:
    if path not in _DECIDED:
        rules = load_classification()
        _DECIDED[path] = [(understand(r.text, rules, shipped), r) for r in read_labelled(path)]
    return _DECIDED[path]


@pytest.mark.slow
@HELD_OUT
def test_evaluation_emergencies_are_handed_to_the_service_they_need(
    shipped: IntakeModel, evaluation: list[LabelledText],
) -> None:
    """Flagging is what saves a life (an operator re-routes a wrong service): the floors
    below count it per file. Naming the labelled service spares the re-route: of the 160
    emergencies of heldout-13..16, 148 with the fifteenth round's model, 151 with the
    sixteenth's (0.75 of heldout.tsv's before it became training data); of the 203 of
    heldout-13..17, 190 with the sixteenth's; of the 243 of heldout-13..18, 233 with the
    seventeenth's; of the 283 of heldout-13..19, 268 with the eighteenth's; of the 326 of
    heldout-13..20, 311 with the nineteenth's; of the 368 of heldout-13..21, 351 with the
    twentieth's; of the 412 of heldout-13..22, 392 with the twenty-first's; of the 454 of
    heldout-13..23, 432 with the twenty-second's. heldout-13..17 became training data in the
    twenty-third round: of the 251 of heldout-18..23, 239 with fold25's candidate; of the
    298 of heldout-18..24, 280 with the twenty-third round's shipped model; of the 339 of
    heldout-18..25, 314 with the twenty-fourth's. heldout-18..22 became training data in the
    twenty-sixth round: of the 130 of heldout-23..25, 123 with its model; of the 173 of
    heldout-23..26, 165 with it; of the 214 of heldout-23..27, 200 with it; of the 256 of
    heldout-23..28, 242 with the twenty-seventh's; of the 302 of heldout-23..29, 286 with the
    twenty-eighth's (heldout-29: 44 of 46); of the 347 of heldout-23..30, 329 with the
    twenty-ninth's (heldout-30: 42 of 45); of the 393 of heldout-23..31, 373 with the
    thirtieth's (heldout-31: 44 of 46); of the 440 of heldout-23..32, 419 with the
    thirty-second round's rules and the same model (heldout-32: 45 of 47 before the round);
    of the 485 of heldout-23..33, 457 with the thirty-third round's (heldout-33: 37 of 45
    before the round); of the 533 of heldout-23..34, 504 with the thirty-fourth round's
    (heldout-34: 46 of 48 before the round); of the 580 of heldout-23..35, 550 with the
    thirty-fifth round's start (heldout-35: 46 of 47 named before the round); of the 625 of
    heldout-23..36, 594 with the thirty-sixth round's start (heldout-36: 44 of 45 named
    before the round)."""
    decided = [pair for path in EVALUATION for pair in _decided(path, shipped)]
    assert [r for _, r in decided] == evaluation  # every evaluation line, each decided once
    emergencies = [(g, r) for g, r in decided if r.labels["emergency"] != "none"]
    assert len(emergencies) == 625
    named = sum(g.emergency == r.labels["emergency"] for g, r in emergencies)
    assert named >= 574, named


@dataclass(frozen=True)
class Floors:
    """What the shipped model measured on one held-out file (clean text): the floors a
    rebuilt model must keep, and the line counts that say the file is the one scored."""

    category: int
    urgent: tuple[int, int]  # (urgent lines, caught)
    emergencies: tuple[int, int]  # (emergency lines, flagged)
    calm: tuple[int, int]  # (general lines, most handed over)


# The evaluation files, each written blind for its round and scored with the model before
# that round's changes; floors a few lines under what was measured. The older files'
# floors left with them when they became training sources (sixteenth, twenty-third and
# twenty-sixth rounds).
HELD_OUT_FLOORS = {
    # Written blind for the twenty-third round (296 scored: four lines were near copies of
    # training lines and left the file); scored with the twenty-second round's model and
    # rules before any change (category 265 of 296; urgent 76 of 76, flagged 42 of 42; 6 of
    # 160 calm calls handed over); floors a few lines under that.
    "heldout-23": Floors(category=259, urgent=(76, 72), emergencies=(42, 38),
                         calm=(160, 9)),
    # Written blind for the twenty-fourth round (300 scored: no near copies of training
    # lines); scored with the twenty-third round's model and rules before any change
    # (category 263 of 300; urgent 80 of 82, flagged 43 of 47; 1 of 158 calm calls handed
    # over); floors a few lines under that.
    "heldout-24": Floors(category=257, urgent=(82, 76), emergencies=(47, 39),
                         calm=(158, 4)),
    # Written blind for the twenty-fifth round (298 scored: two lines were near copies of
    # training lines and left the file); scored with the twenty-fourth round's model and
    # rules before any change (category 272 of 298; urgent 75 of 75, flagged 36 of 41; 2 of
    # 165 calm calls handed over); floors a few lines under that.
    "heldout-25": Floors(category=266, urgent=(75, 71), emergencies=(41, 32),
                         calm=(165, 5)),
    # Written blind for the twenty-sixth round (296 scored: four lines were near copies of
    # training lines and left the file, two of them of heldout-18..22's folded in the same
    # round); scored with the twenty-fifth round's model and rules before any change
    # (category 262 of 296; urgent 79 of 79, flagged 42 of 43; 3 of 156 calm calls handed
    # over); floors a few lines under that.
    "heldout-26": Floors(category=256, urgent=(79, 75), emergencies=(43, 38),
                         calm=(156, 6)),
    # Written blind for the twenty-seventh round (297 scored: three lines were near copies of
    # training lines and left the file); scored with the twenty-sixth round's model and
    # rules before any change (category 256 of 297; urgent 76 of 77, flagged 39 of 41; 3 of
    # 159 calm calls handed over); floors a few lines under that.
    "heldout-27": Floors(category=250, urgent=(77, 73), emergencies=(41, 36),
                         calm=(159, 6)),
    # Written blind for the twenty-eighth round (298 scored: two lines were near copies of
    # training lines and left the file); scored with the twenty-seventh round's model and
    # rules before any change (category 275 of 298; urgent 75 of 76, flagged 42 of 42; 6 of
    # 165 calm calls handed over); floors a few lines under that.
    "heldout-28": Floors(category=269, urgent=(76, 72), emergencies=(42, 37),
                         calm=(165, 9)),
    # Written blind for the twenty-ninth round (294 scored: six lines were near copies of
    # training lines and left the file); scored with the twenty-eighth round's model and
    # rules before any change (category 267 of 294; urgent 74 of 74, flagged 45 of 46; 2 of
    # 162 calm calls handed over); floors a few lines under that.
    "heldout-29": Floors(category=261, urgent=(74, 70), emergencies=(46, 41),
                         calm=(162, 5)),
    # Written blind for the thirtieth round (296 scored: four lines were near copies of
    # training lines and left the file); scored with the twenty-ninth round's model and
    # rules before any change (category 262 of 296; urgent 73 of 75, flagged 44 of 45; 1 of
    # 161 calm calls handed over); floors a few lines under that.
    "heldout-30": Floors(category=256, urgent=(75, 71), emergencies=(45, 40),
                         calm=(161, 4)),
    # Written blind for the thirty-first round (298 scored: two lines were near copies of
    # training lines and left the file); scored with the thirtieth round's model and rules
    # before any change (category 272 of 298; urgent 73 of 74, flagged 45 of 46; 5 of 169
    # calm calls handed over); floors a few lines under that.
    "heldout-31": Floors(category=266, urgent=(74, 70), emergencies=(46, 41),
                         calm=(169, 8)),
    # Written blind for the thirty-second round (295 scored: five lines were near copies of
    # training lines and left the file); scored with the thirty-first round's model and rules
    # before any change (category 270 of 295; urgent 72 of 73, flagged 46 of 47; 1 of 165
    # calm calls handed over); floors a few lines under that.
    "heldout-32": Floors(category=264, urgent=(73, 69), emergencies=(47, 42),
                         calm=(165, 4)),
    # Written blind for the thirty-third round (297 scored: three lines were near copies of
    # training lines and left the file); scored with the thirty-second round's model and
    # rules before any change (category 264 of 297; urgent 74 of 75, flagged 39 of 45; 7 of
    # 164 calm calls handed over); floors a few lines under that.
    "heldout-33": Floors(category=258, urgent=(75, 71), emergencies=(45, 35),
                         calm=(164, 10)),
    # Written blind for the thirty-fourth round (300 scored, no near copy of a training
    # line); scored with the thirty-third round's model and rules before any change (category
    # 272 of 300; urgent 76 of 77, flagged 46 of 48; 1 of 167 calm calls handed over); floors
    # a few lines under that.
    "heldout-34": Floors(category=266, urgent=(77, 72), emergencies=(48, 42),
                         calm=(167, 4)),
    # Written blind for the thirty-fifth round (300 scored, no near copy of a training
    # line); scored with the thirty-fourth round's model and rules before any change
    # (category 267 of 300; urgent 77 of 79, flagged 47 of 47; 2 of 168 calm calls handed
    # over); floors a few lines under that.
    "heldout-35": Floors(category=261, urgent=(79, 73), emergencies=(47, 43),
                         calm=(168, 5)),
    # Written blind for the thirty-sixth round (298 scored: two near copies of training
    # lines dropped); scored with the thirty-fifth round's model and rules before any change
    # (category 269 of 298; urgent 73 of 75, flagged 44 of 45; 3 of 176 calm calls handed
    # over); floors a few lines under that.
    "heldout-36": Floors(category=263, urgent=(75, 71), emergencies=(45, 41),
                         calm=(176, 5)),
}


@pytest.mark.slow
@HELD_OUT
@pytest.mark.parametrize("path", EVALUATION, ids=lambda path: path.stem)
def test_held_out_files_keep_their_floors(shipped: IntakeModel, path: Path) -> None:
    assert path.stem in HELD_OUT_FLOORS, "an evaluation file without floors"
    floors = HELD_OUT_FLOORS[path.stem]
    pairs = _decided(path, shipped)
    assert sum(g.category == r.labels["category"] for g, r in pairs) >= floors.category
    urgent = [g for g, r in pairs if r.labels["urgency"] == "urgent"]
    assert len(urgent) == floors.urgent[0]
    assert sum(g.urgency == "urgent" for g in urgent) >= floors.urgent[1]
    real = [g for g, r in pairs if r.labels["emergency"] != "none"]
    assert len(real) == floors.emergencies[0]
    assert sum(g.emergency != "none" for g in real) >= floors.emergencies[1]
    assert all(g.urgency == "urgent" for g in real if g.emergency != "none")
    calm = [g for g, r in pairs if r.labels["urgency"] == "general"]
    assert len(calm) == floors.calm[0]
    assert sum(g.emergency != "none" for g in calm) <= floors.calm[1]
