"""Mandarin clean-up rules on text."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from asr.cleanup import clean_words, normalize, parse_chinese_integer


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("我 家 住 在 五 号 楼 三 单元", "我家住在5号楼3单元"),
        ("电话 幺 三 八 一 二 三 四 五 六 七 八", "电话13812345678"),
        ("幺三八", "138"),
        ("欠 了 两万四千 元 工资", "欠了24000元工资"),
        ("拖欠 两万四 块 钱", "拖欠24000块钱"),
        ("三 零 二 室 漏水", "302室漏水"),
        ("大概 三十 多 岁", "大概30多岁"),
        ("下午 三 点", "下午3点"),
        ("三点十分 停电", "3点10分停电"),
        ("涨 了 百分之 五十", "涨了50%"),
        ("二零二四 年 三 月 五 日", "2024年3月5日"),
        ("十 号 线 地铁", "10号线地铁"),
        ("一百 零 五 户", "105户"),
        ("三点五 公里", "3.5公里"),
    ],
)
def test_spoken_numbers_become_digits(spoken: str, written: str) -> None:
    assert normalize(spoken) == written


@pytest.mark.parametrize(
    "text",
    [
        "我们 一起 去 看看",
        "有 一些 问题",
        "一直 没 人 管",
        "统一 处理",
        "万一 出事 怎么办",
        "千万 不要 挂",
        "十分 着急",
        "快 一点",
        "一样 的 问题",
        "说 一下 情况",
        "乱七八糟 的",
        "数一数二",
    ],
)
def test_words_with_numerals_stay(text: str) -> None:
    assert normalize(text) == text.replace(" ", "")


def test_spacing() -> None:
    assert normalize("  水管 爆 了  ") == "水管爆了"
    assert normalize("wifi 密码 不对") == "wifi 密码不对"  # only CJK-CJK spaces go
    assert normalize("hello world") == "hello world"


@pytest.mark.parametrize(
    ("text", "value"),
    [("二十三", 23), ("两万四千", 24000), ("一百零五", 105), ("两万四", 24000),
     ("三千五", 3500), ("十五", 15), ("一亿两千万", 120_000_000),
     ("万一", None), ("三四", None), ("十百", None), ("", None)],
)  # fmt: skip
def test_parse_chinese_integer(text: str, value: int | None) -> None:
    assert parse_chinese_integer(text) == value


@dataclass
class W:
    text: str
    conf: float


def test_low_confidence_spans_follow_the_cleaned_text() -> None:
    words = [W("我", 0.9), W("住", 0.95), W("五", 0.4), W("号", 0.9), W("楼", 0.9),
             W("电话", 0.99), W("幺", 0.9), W("三", 0.3), W("八", 0.9), W("漏水", 0.5)]  # fmt: skip
    result = clean_words(words, threshold=0.6)
    assert result.text == "我住5号楼电话138漏水"
    assert [(s.text, s.conf) for s in result.low_confidence] == [
        ("5", 0.4),
        ("138", 0.3),
        ("漏水", 0.5),
    ]
    assert result.marked() == "我住【5】号楼电话【138】【漏水】"
    for span in result.low_confidence:
        assert result.text[span.start : span.end] == span.text


def test_no_low_confidence() -> None:
    assert clean_words([W("你好", 0.99)]).low_confidence == []
    assert clean_words([]).text == ""
