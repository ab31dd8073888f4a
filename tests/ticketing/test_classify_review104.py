"""Review104: threats written against emerg44's guards, after its merge.

Sentences of our own, as a recogniser writes them (no punctuation, numbers as words). Each
was silenced by a guard of the thirty-third round (emerg44): `climb_breath` read breath lost on
the stairs as a lift complaint where no lift was named or where someone else or a sign beyond
the breath was told in words its lists lacked (a regression: main before emerg44 handed each
over); `made_safe` took a water or heating valve shut beside a strong gas smell for the gas's;
`emergency.blast_felt` gave way to a habit, a screen or a fear told anywhere in the call, and
`emergency.pressure_burst` to a bang heard (听见); `ahead_ends` closed a supposition only on
four questions and a `<now>` word eight characters on. docs/classification.md, "Review104".
"""

from __future__ import annotations

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify


@pytest.mark.parametrize(("text", "service"), [
    # climb_breath: no lift named, so no lift complaint (main before emerg44: 120).
    ("我父亲爬完六楼就喘不上气 坐在台阶上动不了", "120"),
    ("我公公爬楼以后喘不上气 好半天了也不见好", "120"),
    ("我有冠心病 刚爬了六楼 喘不上气", "120"),
    ("我怀孕八个月了 爬了六楼 喘不上气 肚子发紧", "120"),
    ("我爬了十楼 喘不过气 浑身没劲 手脚冰凉", "120"),
    # A lift named, but someone else, an illness or a sign the lists lacked.
    ("电梯坏了 外婆爬了七楼 喘不上气 一句话也讲不出来", "120"),
    ("电梯停了 我搭过支架 刚爬了五楼 喘不上气", "120"),
    ("电梯又坏了 邻居大哥爬了九楼 喘不过气来 躺在楼道里", "120"),
    ("电梯坏了 我爹爬了五楼喘不过气 说心里难受", "120"),
    ("电梯没修好 我爬了十二楼 喘不上气 大汗淋漓", "120"),
    # A lift named, the caller's own breath told plainly, not as a figure or a habit.
    ("电梯坏了 我爬了八楼 喘不上气 眼前直冒金星", "120"),
    ("电梯坏了三天了 我爬了七楼 喘不上气 嗓子里呼噜呼噜响", "120"),
    ("电梯坏了 我刚做完手术 爬了四楼 喘不上气", "120"),
    # made_safe: a water or heating valve is not the gas's.
    ("煤气味特别冲 我把水管阀门关了", "119"),
    ("燃气味儿老大了 我把暖气阀门关了", "119"),
    ("一屋子煤气味 呛得睁不开眼 我就把暖气片的阀门拧上了", "119"),
    # blast_felt: a habit, a screen or a fear told beside the blast is not the blast's.
    ("我天天在家带孩子 刚才轰的一声 窗户玻璃全碎了", "119"),
    ("我刷着视频呢 就听楼下轰隆一声 窗户全都震碎了", "119"),
    ("我正看电视呢 轰的一声 窗户玻璃全震碎了", "119"),
    ("楼下轰的一声 我怕还会再炸 玻璃全都碎了", "119"),
    # pressure_burst: a bang heard is no hearsay.
    ("我听见砰的一声 隔壁煤气罐炸了", "119"),
    ("刚才听着隔壁嘭的一声 他家煤气罐炸了", "119"),
    # ahead_ends: a supposition closed by 咋整, 往哪逃, 怎么跑, the present told by 已经 or 结果真….
    ("我一直担心万一着火咋整 结果真着了 楼道里全是烟", "119"),
    ("万一着火怎么办 我跟你说楼道里已经全是烟了", "119"),
    ("万一着火了往哪逃 屋里已经全是浓烟了", "119"),
    ("要是着火了怎么跑啊 楼下已经着起来了 火老大了", "119"),
    # Calm beside them.
    ("电梯坏了 刚才都喘不过气来了 爬了十八楼 物业也不管", "none"),
    ("电梯一直没人修 每天爬十五楼回家 到家都喘不上气", "none"),
    ("万一着火怎么办 楼道已经堆满了杂物 到时候跑都跑不出去", "none"),
    ("万一燃气泄漏了咋整 已经有好几家装了报警器", "none"),
    ("万一孩子掉河里怎么办 已经好几次有人在那游泳了", "none"),
    ("电梯坏了一个月了 每天爬二十楼 喘不上气 邻居也天天骂", "none"),
    ("煤气味挺冲的 我把燃气阀门关了 窗户也开了", "none"),
    ("煤气味挺冲的 我给燃气公司打了电话 阀门关了 窗户也开了", "none"),
    ("拍电影呢 轰的一声 玻璃全碎了 特效做得真好", "none"),
    ("电视里轰的一声 整条街的玻璃全碎了 这片子拍得真好", "none"),
    ("楼下工地天天打桩 砰的一声 玻璃全碎了 老吓人了", "none"),
    ("我就怕哪天轰的一声 玻璃全碎了", "none"),
    ("楼上天天砰的一声关门 整栋楼都跟着晃", "none"),
    ("小区搞消防演练 砰的一声 好几个人往外跑", "none"),
    ("听说隔壁小区有人家煤气罐炸了 想问问怎么检查", "none"),
    ("我听到有人讲 外地有家饭馆煤气罐炸了", "none"),
])
def test_review104_a_guard_of_emerg44_lets_a_threat_through(text: str, service: str) -> None:
    assert classify(text).emergency == service, _cues(text)
