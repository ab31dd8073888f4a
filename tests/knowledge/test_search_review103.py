"""review103: the operators' edit path of config/kb_aliases.toml (and the other phrase-list
files read by the one loader, ``load_lists``). A mistake an operator makes in the file is
an error at start that names the file and the entry, never a silent change of what is
searched (docs/knowledge.md, "Editing the aliases").
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from knowledge.search import Doc, Index, load_aliases


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "kb_aliases.toml"
    path.write_text("[aliases]\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "said"), [
    # A phrase written without the list's brackets: read as a list it was four one-character
    # aliases (住, 房, 基, 金), each making every caller's 房 the entry's own word.
    ('kb014 = "住房基金"\n', "kb014"),
    ('kb014 = ["住房基金", ""]\n', "kb014"),
    ('kb014 = ["住房基金", 12329]\n', "kb014"),
    # Phrases are kept apart by spaces in the index: one with a space would become two.
    ('kb014 = ["住房 基金"]\n', "kb014"),
])
def test_a_malformed_alias_list_is_an_error_naming_the_file_and_entry(
        tmp_path: Path, body: str, said: str) -> None:
    path = _file(tmp_path, body)
    with pytest.raises(ValueError, match=rf"kb_aliases\.toml.*{said}"):
        load_aliases(path)


def test_a_file_that_is_no_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, 'kb014 = ["住房基金"\nkb015 = ["全款买房"]\n')
    with pytest.raises(ValueError, match=r"kb_aliases\.toml"):
        load_aliases(path)


def test_a_good_file_loads_its_phrases_by_entry(tmp_path: Path) -> None:
    path = _file(tmp_path, 'kb014 = ["住房基金", "住房储金"]\n')
    assert load_aliases(path) == {"kb014": ("住房基金", "住房储金")}


def test_aliases_of_an_id_no_entry_has_are_logged_at_index_build(
        caplog: pytest.LogCaptureFixture) -> None:
    """A typo (kb14) or another city's FAQ (other ids): the phrases serve no entry, and the
    operator reads which ids in the log rather than wondering why a name is not heard."""
    docs = [Doc(id="kb014", title="租房住怎么提取公积金", category="housing", answer="网上办。")]
    with caplog.at_level(logging.WARNING, logger="knowledge.search"):
        Index(docs, aliases={"kb014": ("住房基金",), "kb14": ("住房储金",)})
    messages = [r.getMessage() for r in caplog.records]
    assert any("kb14" in m for m in messages)
    assert not any("kb014" in m for m in messages)
