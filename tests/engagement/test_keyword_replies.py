"""Keyword rules answer messages from memory, in priority order, once per message; a change is seen by
every web process on its next push."""

import pytest

from tests.conftest import as_account, fixture_xml, running_web_app
from tests.engagement.conftest import inbox
from wechat.replies import NewsReply, TextReply
from wxnotify.callbacks.models import InboundMessage
from wxnotify.engagement import services
from wxnotify.engagement.matching import RuleSpec, build_matcher
from wxnotify.engagement.models import KeywordRule, ReplyHit
from wxsim.client import ServerURL


def spec(id, match, *keywords, priority=100, text=None):
    return RuleSpec(id, match, keywords, priority, TextReply(text or f"rule {id}"))


def test_exact_and_contains_in_priority_order_then_the_default():
    matcher = build_matcher(
        [
            spec(1, "contains", "疫苗", priority=50),
            spec(2, "exact", "HPV疫苗", priority=10),
            spec(3, "contains", "hpv", priority=20),
            spec(4, "default", priority=999),
            spec(5, "click", "MENU_GUIDE"),
        ]
    )
    assert matcher.answer_text("  hpv疫苗 ").id == 2  # exact, case and spaces folded, and first by priority
    assert matcher.answer_text("九价HPV什么时候到").id == 3  # contains, before the lower-priority 疫苗
    assert matcher.answer_text("流感疫苗").id == 1
    assert matcher.answer_text("停车场在哪").id == 4
    assert matcher.answer_click("MENU_GUIDE").id == 5 and matcher.answer_click("OTHER") is None


def test_an_exact_rule_of_lower_priority_loses_to_a_contains_rule():
    matcher = build_matcher([spec(1, "exact", "挂号", priority=90), spec(2, "contains", "挂", priority=10)])
    assert matcher.answer_text("挂号").id == 2


def rule(account, **fields):
    defaults = {
        "name": "疫苗",
        "match": "contains",
        "keywords": "HPV\n疫苗",
        "reply_kind": "text",
        "text": "九价HPV疫苗预计下周到货",
    }
    return services.save_rule(rule=KeywordRule(account=account, **(defaults | fields)))


@pytest.mark.django_db(transaction=True)
def test_a_rule_answers_the_simulators_text_message(hospital_on_wechat):
    account, sim = hospital_on_wechat
    rule(account)
    rule(account, name="默认", match="default", keywords="", text="您好，人工客服 8:00–17:30 在线", priority=999)
    patient = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    asked = sim.post(f"/_sim/accounts/{account.appid}/patients/{patient}/text", {"content": "HPV疫苗什么时候到？"})
    assert asked["delivery"]["reply"] == "text"
    other = sim.post(f"/_sim/accounts/{account.appid}/patients/{patient}/text", {"content": "停车场在哪"})
    assert other["delivery"]["reply"] == "text"
    replies = [m["content"]["content"] for m in inbox(sim, account, patient) if m["kind"] == "reply"]
    assert replies == ["九价HPV疫苗预计下周到货", "您好，人工客服 8:00–17:30 在线"]
    assert ReplyHit.objects.count() == 2


@pytest.mark.django_db
def test_a_retried_message_is_answered_once_and_stored_once(push, make_account):
    account = make_account(mode="safe")
    rule(account, reply_kind="news", title="HPV疫苗预约指南", url="https://www.example-hospital.cn/hpv")
    text = as_account(fixture_xml("text.xml"), account)
    first, retry = push(account, text), push(account, text)
    assert b"<Encrypt>" in first.content and retry.content == b"success"
    assert InboundMessage.objects.get().times_received == 2
    assert ReplyHit.objects.count() == 1


@pytest.mark.django_db
def test_a_click_with_a_rule_is_answered(push, make_account):
    account = make_account(mode="plaintext")
    rule(account, match="click", keywords="MENU_GUIDE_OPD", text="门诊时间：周一至周日 8:00–17:30")
    answer = push(account, as_account(fixture_xml("menu_click.xml"), account))
    assert "门诊时间" in answer.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_change_reaches_every_web_process_on_its_next_push(make_account):
    """The rules live in each process's memory; the version in the database tells them when to reload."""

    account = make_account(mode="plaintext")
    saved = rule(account, match="exact", keywords="地址", text="旧地址：人民路 1 号")

    def ask(base, n):
        xml = as_account(
            fixture_xml("text.xml"), account, **{"HPV疫苗什么时候到？": "地址", "24387463217845678": str(n)}
        )
        server = ServerURL(
            f"{base}/wechat/{account.appid}/callback",
            token=account.callback_token,
            appid=account.appid,
            mode="plaintext",
        )
        status, answer = server.push(xml)
        assert status == 200
        return answer.decode()

    with running_web_app(workers=2, threads=2) as (base, _):
        assert all("旧地址" in ask(base, n) for n in range(1, 9))  # both processes have it in memory now
        saved.text = "新地址：健康路 8 号"
        services.save_rule(rule=saved)  # this process writes; the two gunicorn processes must notice
        answers = [ask(base, n) for n in range(9, 17)]
    assert all("新地址" in a for a in answers), answers


@pytest.mark.django_db
def test_news_replies_are_one_article():
    reply = KeywordRule(reply_kind="news", title="标题", description="摘要", url="https://x.cn/").as_reply()
    assert isinstance(reply, NewsReply) and reply.article.title == "标题"
