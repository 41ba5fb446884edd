"""The public template library of the simulator: hospital-flavoured subscription templates in Chinese.

Shaped like WeChat's getpubtemplatetitles / getpubtemplatekeywords answers: a template title (`tid`)
has keywords (`kid`, name, example, rule). An account picks 2–5 keywords with addtemplate and gets a
private template whose content has one `{{<rule><kid>.DATA}}` placeholder per keyword.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keyword:
    kid: int
    name: str
    rule: str
    example: str

    @property
    def key(self) -> str:
        return f"{self.rule}{self.kid}"


@dataclass(frozen=True)
class Title:
    tid: int
    title: str
    type: int  # 2 = one-time, 3 = long-term
    category_id: int
    keywords: tuple[Keyword, ...]


CATEGORIES = [
    {"id": 612, "name": "医疗服务 > 公立医疗机构"},
    {"id": 613, "name": "医疗服务 > 健康管理"},
    {"id": 614, "name": "医疗服务 > 疫苗接种"},
    {"id": 615, "name": "政务民生 > 公共服务"},
]


def _k(kid: int, name: str, rule: str, example: str) -> Keyword:
    return Keyword(kid, name, rule, example)


TITLES: dict[int, Title] = {
    t.tid: t
    for t in [
        Title(
            5001,
            "预约成功通知",
            2,
            612,
            (
                _k(1, "就诊人", "name", "张三"),
                _k(2, "就诊科室", "thing", "心内科"),
                _k(3, "就诊时间", "time", "2026年12月3日 09:30"),
                _k(4, "就诊地点", "thing", "门诊楼三楼"),
                _k(5, "预约编号", "character_string", "A0123"),
                _k(6, "温馨提示", "thing", "请提前15分钟到院"),
            ),
        ),
        Title(
            5002,
            "直播开始提醒",
            2,
            613,
            (
                _k(1, "直播主题", "thing", "糖尿病饮食管理"),
                _k(2, "开始时间", "time", "2026年12月5日 19:30"),
                _k(3, "主讲人", "name", "李医生"),
                _k(4, "直播间", "thing", "瑞康医院视频号"),
                _k(5, "备注", "thing", "点击进入直播间"),
            ),
        ),
        Title(
            5003,
            "活动报名提醒",
            2,
            613,
            (
                _k(1, "活动名称", "thing", "社区义诊"),
                _k(2, "活动时间", "time", "2026年12月12日 08:30~11:30"),
                _k(3, "活动地点", "thing", "门诊大厅"),
                _k(4, "活动状态", "phrase", "即将开始"),
                _k(5, "温馨提示", "thing", "请携带医保卡"),
            ),
        ),
        Title(
            5004,
            "疫苗到货通知",
            2,
            614,
            (
                _k(1, "疫苗名称", "thing", "九价HPV疫苗"),
                _k(2, "到货时间", "date", "2026年12月1日"),
                _k(3, "接种地点", "thing", "预防接种门诊"),
                _k(4, "剩余数量", "number", "200"),
                _k(5, "预约方式", "thing", "点击卡片立即预约"),
            ),
        ),
        Title(
            5005,
            "体检套餐上架提醒",
            2,
            613,
            (
                _k(1, "套餐名称", "thing", "女性全面体检套餐"),
                _k(2, "套餐价格", "amount", "¥699.00"),
                _k(3, "上架时间", "time", "2026年12月8日 10:00"),
                _k(4, "适用人群", "thing", "25岁以上女性"),
                _k(5, "备注", "thing", "名额有限，先到先得"),
            ),
        ),
        Title(
            5006,
            "就诊提醒",
            3,
            612,
            (
                _k(1, "就诊人", "name", "张三"),
                _k(2, "就诊时间", "time", "2026年12月3日 09:30"),
                _k(3, "就诊科室", "thing", "内分泌科"),
                _k(4, "联系电话", "phone_number", "0511-88888888"),
                _k(5, "排队号", "character_string", "B017"),
            ),
        ),
        Title(
            5007,
            "检查报告出具通知",
            3,
            612,
            (
                _k(1, "检查项目", "thing", "血常规"),
                _k(2, "出具时间", "time", "2026年12月3日 15:20"),
                _k(3, "患者姓名", "name", "张三"),
                _k(4, "报告状态", "phrase", "已出具"),
            ),
        ),
        Title(
            5008,
            "停车预约成功通知",
            2,
            615,
            (
                _k(1, "车牌号", "car_number", "苏L12345"),
                _k(2, "预约时间", "time", "2026年12月3日 09:00"),
                _k(3, "停车场", "thing", "门诊地下停车场"),
            ),
        ),
    ]
}

# The templates `--demo` and `make demo` give the demo account: (tid, kidList, sceneDesc)
DEMO_TEMPLATES = [
    (5002, [1, 2, 3, 5], "健康讲座直播"),
    (5003, [1, 2, 3, 5], "义诊与线下活动"),
    (5004, [1, 2, 3, 5], "疫苗到货"),
    (5005, [1, 2, 3, 5], "体检套餐上架"),
    (5006, [1, 2, 3], "复诊提醒"),
]
