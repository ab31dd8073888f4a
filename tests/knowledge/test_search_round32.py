"""Twenty-ninth round (kb32): callers' everyday words for what an entry names otherwise
(找不着, 掉了, 头一回; 打官司 taken out again by review80: any lawsuit was read as
arbitration). docs/knowledge.md, "Twenty-ninth round (kb32)". The sentences are this round's own, not lines of a bench file;
each rule has a caller's phrase answered and a near miss that stays unanswered.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from knowledge.search import Index, normalise, worth_confirming
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out

CONFIRM_FROM = Settings().ivr.kb_confirm_from


def assert_unanswered(index: Index, text: str) -> None:
    """Neither read out nor offered: filed as a ticket."""
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, (r.hits[:2],
                                                                           r.features)


@pytest.mark.parametrize(("text", "entry"), [
    # 找不着 is the northern 找不到, already read as 丢失.
    ("我的身份证找不着了，怎么补办？", "kb004"),
    # A document or card that fell or is gone is lost.
    ("身份证掉了，怎么补", "kb004"),
    # 头一回 is 第一次, as kb001's title writes it.
    ("头一回办居住证咋办", "kb001"),
    ("居住证头回办，去哪儿办", "kb001"),
])
def test_a_callers_everyday_word_is_answered(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize("text", [
    # Lost, but the marriage entry never speaks of replacing the certificate (kb29's lost
    # matter): the new words must not get round it.
    "结婚证找不着了，能补吗",
    # Another card than the entry's (社保卡 against 身份证).
    "社保卡掉了咋补",
    # A bare 掉了 is no loss: the heating stopped.
    "暖气停掉了怎么办",
    # Going to court against a merchant, a landlord or a neighbour is no labour
    # arbitration: with 官司 a topic word of 劳动仲裁 (kb32) each was read out kb025
    # (review80), so it is not one.
    "跟商家打官司去哪个法院",
    "跟商家打官司去哪儿起诉",
    "跟房东打官司去哪儿起诉",
    "邻居家漏水泡了我家，我想打官司，去哪儿起诉",
    "我想跟物业打官司，物业费的事去哪儿起诉",
])
def test_a_near_miss_stays_unanswered(index: Index, text: str) -> None:
    assert_unanswered(index, text)


def test_the_first_time_of_another_procedure_is_not_the_first_permit(index: Index) -> None:
    # 头一回 签注 is the endorsement's question (kb002), never read out as kb001's.
    r = index.search("居住证头一回签注怎么弄", today=TODAY)
    assert r.answer is None or r.answer.id != "kb001"


@pytest.mark.parametrize(("text", "lost"), [
    ("身份证掉了", True), ("居住证也没了", True), ("养老卡掉了", True),
    ("暖气停掉了", False), ("燃气卡没了气", False), ("电卡里没钱了", False),
])
def test_lost_only_after_a_document_or_card(text: str, lost: bool) -> None:
    assert ("丢失" in normalise(text)) is lost
