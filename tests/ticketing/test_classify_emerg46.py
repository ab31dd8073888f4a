"""Thirty-third round (emerg46): review104's left emergencies.

Sentences of our own (bench/data/emerg_own46.tsv), colloquial and as a recogniser writes them:
a blast, a fire, a fall or someone down told beside a near miss of the caller's own (差点
governs only its own words, not the call: "砰的一声 窗户玻璃全都震碎了 我差点从凳子上摔下来"),
smoke told with a now word between the place and the smoke (走廊里现在全是烟), a bang then fire
with no glass (咣的一声 隔壁厂房里窜出好高的火苗子). Their calm twins stay with 12345: a near miss
alone (油锅差点着火, 差点炸着我), a cylinder that burst years ago (前两年, 前几年), a neighbour's
breath on the stairs passed on to complain of the lift, fireworks' sparks. docs/classification.md,
"Thirty-third round (emerg46)".
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests.support.sweep import assert_every
from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own46.tsv"

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped


def _lines() -> list[tuple[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], row["emergency"]) for row in rows]


def test_emerg46_each_line_is_handed_to_its_service_or_stays(shipped) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees. One
    # sweep of the file's lines, each failing line named (tests/support/sweep.py).
    assert_every(_lines(),
                 lambda line: _emerg45.assert_handed_or_kept(shipped, *line))


def test_emerg46_the_file_holds_both_sides() -> None:
    lines = _lines()
    assert sum(service != "none" for _, service in lines) >= 15
    assert sum(service == "none" for _, service in lines) >= 15
