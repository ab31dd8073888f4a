"""Intake understanding: the rules floor, the learned model's train/eval/load path, the
fallback without a model, recogniser-style degradation, and the 待确认 confirm/correct
flow (service and API on SQLite and PostgreSQL; `--from-corrections` through the CLI).

The life-safety and emergency sentences below were written for these tests from general
knowledge of what endangers life; none is in ../shared/corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypinyin import lazy_pinyin
from sqlalchemy import select
from typer.testing import CliRunner

from config import Settings, get_settings
from hotline import dbadmin
from hotline.app import create_app
from hotline.cli import app as cli
from tests.conftest import SHARED
from tests.support.city import City
from ticketing import service
from ticketing.classify import classify, load_rules
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory, transaction
from ticketing.degrade import degrade, spoken_number
from ticketing.intake_model import (
    CALM_KINDS,
    DECISION,
    IntakeModel,
    ModelStore,
    Understanding,
    file_sha256,
    read_labelled,
    ship,
    store_for,
    understand,
)
from ticketing.models import Ticket

runner = CliRunner()

# The two misses quoted in issue 15 (they must come out urgent by general rules).
ISSUE_MISSES = [
    "一栋楼的电梯下坠，把两个人关在里面了，现在还没救出来",
    "护栏断了好几米，旁边就是小学，很危险",
]
LIFE_SAFETY = [
    "商场的扶梯突然倒着往下跑，好几个人摔倒了",
    "小区里的滑梯那边栏杆松了，底下是三米高的台子，小孩老在上面爬",
    "楼顶的广告牌被风吹得一晃一晃的，下面是公交站，随时可能砸到人",
    "河边的防护网被人剪开了一个大口子，晚上黑，容易掉下去",
    "这个下水井的盖子碎了，上面就盖了块纸板，特别危险",
    "配电箱的门掉了，里面的电线都露着，幼儿园就在旁边",
    "地下车库里一直有股很重的燃气味，都呛嗓子",
    "邻居家老太太锁在屋里好几天没出来了，敲门也没人应",
]
EMERGENCIES = [
    ("对面楼五层的窗户往外冒黑烟，好像是着火了", "119"),
    ("游泳馆有个小孩溺水了，刚捞上来", "119"),
    ("公交车上有个大爷突然抽搐，口吐白沫，叫不醒", "120"),
    ("我妈在家里晕倒了，叫不醒，快派救护车", "120"),
    ("超市门口两伙人拿着棍子打起来了", "110"),
    ("有人拿着刀在街上追着人砍", "110"),
]
CALM = [
    "想问问这个月的物业费什么时候交",
    "路灯坏了一个，不危险，就是晚上有点暗",
    "昨天的火灾演习搞得挺好，表扬一下社区",
]


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small labelled file in the shipped format: 80 lines of the shared sample."""
    lines = (SHARED / "corpus" / "complaints-2.tsv").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("intake") / "small.tsv"
    path.write_text("\n".join(lines[:81]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(small_file: Path, rules) -> IntakeModel:
    return IntakeModel.train(read_labelled(small_file), rules)


# Training a model, even on the 80 lines above (~4 CPU-s: the augmented texts' vectorisers
# and SVMs), is heavy by nature: the tests that train, or use the model trained here, run in
# the whole suite only (marker "slow", not `scripts/test.sh --fast`). The fast tier keeps
# the rules' floor below without the model, and the shipped model on the same issue misses
# and a life-safety question (test_intake_shipped.py).
trains = pytest.mark.slow


# --------------------------------------------------------------------------- rules floor


@trains
@pytest.mark.parametrize("text", ISSUE_MISSES + LIFE_SAFETY)
def test_life_safety_words_make_it_urgent(text: str, rules, model: IntakeModel) -> None:
    assert classify(text, rules).urgency == "urgent"
    # A trained model may only raise the floor, never lower it.
    assert understand(text, rules, model).urgency == "urgent"


@trains
@pytest.mark.parametrize(("text", "service"), EMERGENCIES)
def test_emergency_words_name_the_service(text: str, service: str, rules,
                                          model: IntakeModel) -> None:
    for got in (classify(text, rules), understand(text, rules, model)):
        assert (got.emergency, got.urgency) == (service, "urgent")


@pytest.mark.parametrize("text", CALM)
def test_calm_calls_raise_no_alarm(text: str, rules) -> None:
    got = classify(text, rules)
    assert got.emergency == "none" and got.urgency != "urgent", got.matched


def test_negated_emergency_is_not_one(rules) -> None:
    assert classify("刚才两辆车追尾了，没有人受伤，就是堵路", rules).emergency == "none"


def test_rules_give_a_kind(rules) -> None:
    assert classify("我要举报楼下的饭馆往河里偷排废水", rules).kind == "report"
    assert classify("请问老年卡在哪里办", rules).kind == "inquiry"
    assert classify("感谢社区的王书记帮我们修好了楼道灯", rules).kind == "praise"
    assert classify("楼下的垃圾三天没人收了", rules).kind == "complaint"


# A household without water, gas or heat now is livelihood (24 h); low water pressure and a
# flat at 18 °C or warmer are general (docs/labelling.md L1, G).
LIVELIHOOD_CUES = [
    ("村里自来水的泵坏了，这几天家家户户都去河边挑水", "livelihood"),
    ("我们楼从早上到现在一滴自来水都没有", "livelihood"),
    ("燃气表换了以后我家三天开不了火", "livelihood"),
    ("小区的锅炉停了，暖气片摸着跟没开一样", "livelihood"),
    ("暖气开了跟没开一样，屋里只有十五度", "livelihood"),
    ("水压有点低，洗澡的时候水小，倒也能用", "general"),
    ("暖气屋里十八度，能不能再烧热一点", "general"),
    ("暖气太足了，屋里二十六度，能不能调低点", "general"),
]


@pytest.mark.parametrize(("text", "level"), LIVELIHOOD_CUES)
def test_livelihood_cues_follow_the_labelling_guide(text: str, level: str, rules) -> None:
    got = classify(text, rules)
    assert got.urgency == level, got.matched
    assert any(m.startswith("livelihood.") for m in got.matched) == (level == "livelihood")


# --------------------------------------------------------------------------- degrade


def test_degrade_looks_like_a_recogniser() -> None:
    text = "朝阳区望京西园3区5号楼停水了，已经12个小时！"
    noisy = degrade(text, seed=1, homophone_rate=0.0)
    assert not any(ch in noisy for ch in "，！0123456789")
    assert "三区" in noisy.replace(" ", "") and "十二个小时" in noisy.replace(" ", "")
    assert " " in noisy  # words separated as Vosk writes them
    assert degrade(text, seed=1) == degrade(text, seed=1)  # reproducible figures
    # Every substitution sounds the same (tone aside).
    swapped = degrade("我家的燃气表坏了需要维修更换", seed=3, homophone_rate=0.5).replace(" ", "")
    assert swapped != "我家的燃气表坏了需要维修更换"
    assert lazy_pinyin(swapped) == lazy_pinyin("我家的燃气表坏了需要维修更换")


@pytest.mark.parametrize(("digits", "spoken"), [
    ("5", "五"), ("10", "十"), ("15", "十五"), ("20", "二十"), ("105", "一百零五"),
    ("1008", "一千零八"), ("2000", "两千"), ("20000", "两万"), ("0302", "零三零二"),
    ("13811112222", "一三八一一一一二二二二"), ("3.5", "三点五"),
])
def test_numbers_are_spoken(digits: str, spoken: str) -> None:
    assert spoken_number(digits) == spoken


# --------------------------------------------------------------------------- no model


def test_without_a_model_the_rules_classify(tmp_path: Path, rules) -> None:
    # A fresh install uses the shipped model (test_intake_shipped.py); without any model,
    # e.g. a checkout whose data/intake/model/ was removed, the rules classify alone.
    domain = replace(Domain.load(Settings(data_dir=tmp_path)), model=None)
    got = domain.understand("朝阳区望京西园三区5号楼停水一天了")
    assert (got.category, got.urgency, got.district, got.source) == (
        "water", "livelihood", "朝阳区", "rules")
    assert got.confidence == {} and not got.needs_confirmation
    # Nothing the rules recognise: "other" means "not understood", so an operator checks.
    assert domain.understand("嗯，那个，就是上次说的那个事").needs_confirmation
    assert ModelStore(tmp_path / "classifier", shipped=None).load_current() is None


# --------------------------------------------------------------------------- train/eval/load


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@trains
def test_train_stores_versions_and_the_service_loads_the_current(
    cli_env: Path, small_file: Path, sqlite_url: str,
) -> None:
    # Two folds, the fewest: the cross-validation runs and its metrics are stored; each
    # fold is a training of its own (three folds: ~0.7 CPU-s more, suite33).
    r = runner.invoke(cli, ["classify", "train", str(small_file), "--folds", "2"])
    assert r.exit_code == 0, r.output
    assert "model version 1" in r.output and "2-fold cross-validation" in r.output
    store = store_for(cli_env)
    info = store.current_info()
    assert info is not None and info["version"] == 1 and info["rows"] == 80
    assert (store.directory / "model-0001.bin").exists()
    assert len(info["data_sha256"]) == 64 and 0 < info["metrics"]["category"] <= 1
    assert set(info["fields"]) == {"category", "urgency", "kind", "emergency"}

    # A second run is a new file; the pointer moves, the old version stays for a rollback.
    r = runner.invoke(cli, ["classify", "train", str(small_file), "--folds", "0"])
    assert r.exit_code == 0, r.output
    assert store.current_info()["version"] == 2
    assert (store.directory / "model-0001.bin").exists()

    r = runner.invoke(cli, ["classify", "eval", str(small_file)])
    assert r.exit_code == 0, r.output
    for heading in ("category: accuracy", "urgency: accuracy", "kind: accuracy",
                    "emergency: accuracy", "confusion", "urgent_recall", "emergency_recall",
                    "recogniser-style", "model version 2"):
        assert heading in r.output, heading
    assert "version 2" in runner.invoke(cli, ["classify", "status"]).output

    # The app factory loads it: tickets carry the model's confidence.
    settings = Settings(database_url=sqlite_url, data_dir=cli_env)
    domain = Domain.load(settings)
    assert domain.model is not None and domain.model.info["version"] == 2
    got = domain.understand("楼里从早上就没水了，自来水公司也不给个说法")
    assert got.source == "model" and set(got.confidence) == set(info["fields"])
    assert all(0 < p <= 1 for p in got.confidence.values())


def test_eval_rules_only_and_bad_file(cli_env: Path, small_file: Path) -> None:
    r = runner.invoke(cli, ["classify", "eval", str(small_file), "--rules-only",
                            "--no-degraded"])
    assert r.exit_code == 0 and "rules alone" in r.output
    bad = cli_env / "bad.tsv"
    bad.write_text("words\tcategory\nx\ty\n", encoding="utf-8")
    assert runner.invoke(cli, ["classify", "train", str(bad)]).exit_code == 2
    assert runner.invoke(cli, ["classify", "train"]).exit_code == 2


# --------------------------------------------------------------------------- 待确认 flow


def _ticket(sessions, domain: Domain, city: City, demand: str,
            understood: Understanding | None = None) -> Ticket:
    operator = city.actor("operator")  # outside the transaction: SQLite has one writer
    with transaction(sessions) as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator,
                                  channel="phone", caller_phone="13811112222", demand=demand,
                                  understood=understood)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        return t


def test_unsure_ticket_is_flagged_then_corrected_and_audited(
    sessions, domain: Domain, city: City, settings: Settings,
) -> None:
    # Says nothing anyone can place: flagged for an operator. The model's reading with the
    # flag set here: how sure a retrained model is of "other" for it varies (the model of
    # the sixteenth round, 7,354 texts, is 0.73 sure and flags nothing).
    demand = "你好，我想反映个情况，就是我们这儿的事，还是老样子"
    guessed = replace(domain.understand(demand), category="other", urgency="general",
                      emergency="none", needs_confirmation=True)
    t = _ticket(sessions, domain, city, demand, understood=guessed)
    client = TestClient(create_app(settings))
    op = {"Authorization": f"Bearer {city.tokens['operator']}"}
    shown = client.get(f"/api/v1/tickets/{t.number}", headers=op).json()
    assert shown["needs_confirmation"] is True
    assert (shown["category"], shown["urgency"], shown["emergency"]) == ("other", "general",
                                                                         "none")
    assert set(shown["confidence"]) == {"category", "urgency", "kind", "emergency"}
    listed = client.get("/api/v1/tickets?unconfirmed=true", headers=op).json()
    assert [x["number"] for x in listed["items"]] == [t.number]
    before_due = shown["due_at"]

    handler = {"Authorization": f"Bearer {city.tokens['water-handler']}"}
    assert client.post(f"/api/v1/tickets/{t.number}/classification", headers=handler,
                       json={}).status_code in (403, 404)
    assert client.post(f"/api/v1/tickets/{t.number}/classification", headers=op,
                       json={"kind": "rumour"}).status_code == 422

    r = client.post(f"/api/v1/tickets/{t.number}/classification", headers=op,
                    json={"category": "municipal", "urgency": "urgent", "kind": "report"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["category"], out["urgency"], out["kind"]) == ("municipal", "urgent", "report")
    assert out["needs_confirmation"] is False and out["due_at"] < before_due  # 1 hour now
    with sessions() as s:
        events = [e for e in service.events_of(session=s, ticket=s.get(Ticket, t.id))
                  if e.action.startswith("classification")]
        assert [e.action for e in events] == ["classification_corrected"]
        assert events[0].data["before"]["category"] == "other"
        assert events[0].data["after"] == {"category": "municipal", "urgency": "urgent",
                                           "kind": "report", "emergency": "none",
                                           "sub_category": None}
        assert events[0].role == "operator"
        reviewed = service.reviewed_classifications(session=s)
    # No sub-category is no label: the training rows carry only what was decided.
    assert reviewed == [(t.demand, {"category": "municipal", "urgency": "urgent",
                                    "kind": "report", "emergency": "none"})]
    assert client.get("/api/v1/tickets?unconfirmed=true", headers=op).json()["total"] == 0


def test_confirming_as_is_is_audited_and_naming_a_service_makes_it_urgent(
    sessions, domain: Domain, city: City,
) -> None:
    t = _ticket(sessions, domain, city, "嗯，那个，就是上次说的那个事")
    operator = city.actor("operator")
    with transaction(sessions) as s:
        ticket = s.get(Ticket, t.id)
        service.confirm_classification(session=s, domain=domain, ticket=ticket, actor=operator)
        assert not ticket.needs_confirmation
        service.confirm_classification(session=s, domain=domain, ticket=ticket,
                                       actor=operator, emergency="120")
        assert (ticket.emergency, ticket.urgency) == ("120", "urgent")
    with sessions() as s:
        actions = s.scalars(select(service.TicketEvent.action).where(
            service.TicketEvent.ticket_id == t.id,
            service.TicketEvent.action.like("classification%"))).all()
    assert actions == ["classification_confirmed", "classification_corrected"]


@trains
def test_train_from_corrections(cli_env: Path, small_file: Path) -> None:
    url = f"sqlite:///{cli_env / 'cli.db'}"
    dbadmin.upgrade(url)
    settings = Settings(database_url=url, data_dir=cli_env)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    domain = Domain.load(settings)
    from tests.support.city import seed_city

    city = seed_city(sessions, domain)
    t = _ticket(sessions, domain, city, "小区门口卖烤红薯的车占了盲道")
    operator = city.actor("operator")
    with transaction(sessions) as s:
        service.confirm_classification(session=s, domain=domain, ticket=s.get(Ticket, t.id),
                                       actor=operator, category="municipal")
    engine.dispose()
    r = runner.invoke(cli, ["classify", "train", str(small_file), "--from-corrections",
                            "--folds", "0"])
    assert r.exit_code == 0, r.output
    assert "1 reviewed ticket(s)" in r.output
    info = store_for(cli_env).current_info()
    assert info["rows"] == 81 and "corrections" in info["sources"]


@trains
def test_fast_features_and_probabilities_equal_sklearns(model: IntakeModel, rules,
                                                       small_file: Path) -> None:
    """The model keeps plain data; its hand-computed TF-IDF rows and probabilities are
    scikit-learn's (vectorisers refitted on the same texts, SVM scores · temperature)."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from ticketing.intake_model import (
        AUGMENT_SEEDS,
        CHAR_NGRAMS,
        MIN_DF,
        _jieba_words,
        _pinyin_grams,
        _prepare,
        _rule_votes,
    )

    rows = read_labelled(small_file)
    texts = [_prepare(t) for t in [r.text for r in rows]
             + [degrade(r.text, seed=seed) for seed in AUGMENT_SEEDS for r in rows]]
    vectorisers = [TfidfVectorizer(analyzer="char", ngram_range=(1, CHAR_NGRAMS),
                                   sublinear_tf=True, min_df=MIN_DF),
                   TfidfVectorizer(analyzer=_jieba_words, sublinear_tf=True, min_df=MIN_DF),
                   TfidfVectorizer(analyzer=_pinyin_grams, sublinear_tf=True, min_df=MIN_DF)]
    for vec in vectorisers:
        vec.fit(texts)
    for ours_block, vec in zip(model.vocabularies, vectorisers, strict=True):
        assert ours_block.vocabulary == vec.vocabulary_
    for text in [*ISSUE_MISSES, *CALM, "喂 你好 我们 小区 停水 三天 了", "ATM机 x"]:
        ruled = classify(text, rules)
        ours = model.features(text, ruled)
        theirs = sparse.hstack([*(v.transform([_prepare(text)]) for v in vectorisers),
                                _rule_votes([ruled])]).tocsr()
        assert np.allclose(ours.toarray(), theirs.toarray(), atol=1e-6)
        for f in model.fields.values():
            svm = LinearSVC()
            svm.classes_ = np.array(f.classes)
            svm.coef_, svm.intercept_ = f.coef.astype(float), f.intercept.astype(float)
            scores = svm.decision_function(theirs).reshape(1, -1)
            if scores.shape[1] == 1:  # two classes: one score, for the second
                scores = np.hstack([-scores / 2, scores / 2])
            scores = scores * f.temperature
            expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
            assert np.allclose(f.probabilities(ours), expected, atol=1e-5)


@trains
def test_a_stored_model_decides_as_the_trained_one(model: IntakeModel, rules,
                                                  tmp_path: Path) -> None:
    """Coefficients are stored in half precision: read back, every decision on the held-out
    texts is the one the model made before it was written, probabilities within 0.1 %. Only
    a probability that lies within that 0.1 % of a decision threshold may fall on its other
    side (a praise line at P(urgent) 0.15999 / 0.16003 did, once the rules' votes of the
    training lines changed)."""
    root = Path(__file__).resolve().parents[2] / "data" / "intake"
    texts = [r.text for name in ("heldout.tsv", "heldout-2.tsv")
             for r in read_labelled(root / name)]
    store = ModelStore(tmp_path / "classifier", shipped=None)
    store.save(model)
    loaded = store.load_current()
    assert loaded is not None
    for text in texts:
        ruled = classify(text, rules)
        proba, read_back = model.probabilities(text, ruled), loaded.probabilities(text, ruled)
        for name, dist in proba.items():
            for label, p in dist.items():
                assert abs(read_back[name][label] - p) < 1e-3, (text, name, label)
        before, after = model.predict(text, ruled), loaded.predict(text, ruled)
        if {k: v[0] for k, v in before.items()} != {k: v[0] for k, v in after.items()}:
            assert _at_a_threshold(proba), (text, before, after)


@trains
def test_a_city_model_of_the_old_format_still_loads(model: IntakeModel, rules,
                                                    tmp_path: Path) -> None:
    """A city's model trained before the twenty-seventh round is a format-2 joblib file; an
    upgrade keeps using it (checked against its SHA-256 as before), deciding as the same
    model written in format 3 does."""
    import joblib
    import numpy as np

    old = ModelStore(tmp_path / "old", shipped=None)
    old.directory.mkdir()
    fields = {name: replace(f, coef=f.coef.astype(np.float16))
              for name, f in model.fields.items()}
    joblib.dump({"format": 2, "vocabularies": model.vocabularies, "fields": fields},
                old.directory / "model-0001.joblib", compress=("lzma", 6))
    (old.directory / "current.json").write_text(json.dumps(
        {"file": "model-0001.joblib", "version": 1,
         "sha256": file_sha256(old.directory / "model-0001.joblib")}))
    new = ModelStore(tmp_path / "new", shipped=None)
    new.save(model)
    read_old, read_new = old.load_current(), new.load_current()
    assert read_old is not None and read_new is not None
    for text in [*LIFE_SAFETY, *(t for t, _ in EMERGENCIES), *CALM]:
        ruled = classify(text, rules)
        assert read_old.probabilities(text, ruled) == read_new.probabilities(text, ruled)


@trains
def test_shipping_writes_format_3_and_leaves_no_format_2_file(model: IntakeModel,
                                                             tmp_path: Path) -> None:
    """``hotline classify ship`` over a directory that held the format-2 artifact: the
    manifest names the format-3 file, and the old one is gone (nothing would read it)."""
    (tmp_path / "intake-model.joblib").write_bytes(b"format 2")
    info = ship(model, directory=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["file"] == "intake-model.bin" and manifest["format"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["intake-model.bin", "manifest.json"]
    assert info["sha256"] == file_sha256(tmp_path / "intake-model.bin")


def _at_a_threshold(proba: dict[str, dict[str, float]]) -> bool:
    """Whether a probability that ``decide`` compares with a threshold lies within 0.1 % of
    it."""
    weighed = {
        "urgent": proba.get("urgency", {}).get("urgent", 0.0),
        "emergency": sum(p for k, p in proba.get("emergency", {}).items() if k != "none"),
        "calm": sum(proba.get("kind", {}).get(k, 0.0) for k in CALM_KINDS),
    }
    return any(abs(weighed[k] - DECISION[k]) < 1e-3 for k in weighed)


@pytest.mark.parametrize(("text", "service"), [
    ("楼顶上站着一个年轻人，说要跳楼，底下围了好多人", "110"),
    ("我家孩子在公园门口走丢了，六岁，穿红衣服", "110"),
    ("工业园区有个罐子在漏氨气，味道特别冲", "119"),
])
def test_more_emergencies_from_general_knowledge(text: str, service: str, rules) -> None:
    got = classify(text, rules)
    assert (got.emergency, got.urgency) == (service, "urgent"), got.matched


@pytest.mark.parametrize("text", [
    "大雨以后桥洞下面的积水很深，刚才有辆车熄火在里面了",
    "马路中间掉了好几根钢管，车都在绕着开",
    "小区里的大狗不拴绳，昨天把一个小孩咬伤了",
])
def test_more_life_safety_from_general_knowledge(text: str, rules) -> None:
    assert classify(text, rules).urgency == "urgent"


@trains
def test_eval_reports_calibration(model: IntakeModel, rules, small_file: Path) -> None:
    from ticketing.intake_eval import evaluate, predict_all

    rows = read_labelled(small_file)
    summary = evaluate(rows, predict_all(rows, lambda t: understand(t, rules, model)))["summary"]
    for name in ("category", "urgency", "kind", "emergency"):
        assert 0 <= summary[f"{name}_calibration_error"] <= 1
    assert summary["urgent_total"] == sum(r.labels["urgency"] == "urgent" for r in rows)


@trains
@pytest.mark.parametrize(("p_urgent", "urgency"), [(0.18, "urgent"), (0.12, "general")])
def test_the_shipped_urgent_threshold(model: IntakeModel, p_urgent: float,
                                      urgency: str) -> None:
    """A call the model gives a one-in-six chance of being urgent is urgent (tenth round:
    the middle of the flat minimum of 8 x missed + false urgent in 5-fold CV, 0.13-0.18;
    docs/classification.md), and a model trained now records that threshold."""
    from ticketing.intake_model import DECISION, decide

    probabilities = {"urgency": {"general": 0.88 - p_urgent, "livelihood": 0.12,
                                 "urgent": p_urgent},
                     "kind": {"complaint": 0.9, "inquiry": 0.1}}
    assert decide(probabilities, [], DECISION)["urgency"][0] == urgency
    assert model.info["decision"] == DECISION
