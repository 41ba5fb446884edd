"""bizsend with WeChat's checks (docs/wechat-protocol.md §2.3–2.5, §10) and the credit semantics of subscriptions."""

import threading

from tests.wxsim.conftest import APPID, read_push
from wechat.messages import SubscribePopupEvent, SubscribeSentEvent

VACCINE = {"thing1": "九价HPV疫苗", "date2": "2026年12月1日", "thing3": "预防接种门诊", "thing5": "点击卡片立即预约"}
VISIT = {"name1": "张三", "time2": "2026年12月3日 09:30", "thing3": "内分泌科"}


def send(wx, openid, template_id, data=VACCINE, **extra):
    body = {"touser": openid, "template_id": template_id, "data": {k: {"value": v} for k, v in data.items()}, **extra}
    return wx("POST", "/cgi-bin/message/subscribe/bizsend", body=body)


def accept(sim, openid, template_id, scene=2):
    return sim.post(
        f"/_sim/accounts/{APPID}/patients/{openid}/popup", {"choices": {template_id: "accept"}, "popup_scene": scene}
    )


def test_one_accept_one_send_then_43101(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    assert send(wx, patient, account["one_time"])["errcode"] == 43101  # never subscribed
    accept(sim, patient, account["one_time"])
    ok = send(wx, patient, account["one_time"])
    assert ok["errcode"] == 0 and isinstance(ok["msgid"], int) and ok["msgid"] > 2**60
    refused = send(wx, patient, account["one_time"])
    assert refused["errcode"] == 43101 and refused["errmsg"].startswith("user refuse to accept the msg rid: ")


def test_two_accepts_two_sends(sim, wx, account):
    wx.login()
    patient = account["openids"][1]
    accept(sim, patient, account["one_time"])
    accept(sim, patient, account["one_time"], scene=1)
    assert [send(wx, patient, account["one_time"])["errcode"] for _ in range(3)] == [0, 0, 43101]
    received = sim.get(f"/_sim/accounts/{APPID}/received?template_id={account['one_time']}&detail=1")
    assert received["counts"] == {patient: 2}


def test_long_term_until_switched_off_in_settings(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    accept(sim, patient, account["long_term"])
    assert [send(wx, patient, account["long_term"], VISIT)["errcode"] for _ in range(4)] == [0, 0, 0, 0]
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/settings-reject", {"template_ids": [account["long_term"]]})
    assert send(wx, patient, account["long_term"], VISIT)["errcode"] == 43101


def test_settings_rejection_also_takes_one_time_credits(sim, wx, account):
    wx.login()
    patient = account["openids"][2]
    accept(sim, patient, account["one_time"])
    sim.post(f"/_sim/accounts/{APPID}/patients/{patient}/settings-reject", {"template_ids": [account["one_time"]]})
    assert send(wx, patient, account["one_time"])["errcode"] == 43101


def test_unknown_template_and_openid(sim, wx, account):
    wx.login()
    assert send(wx, account["openids"][0], "no-such-template")["errcode"] == 40037
    assert send(wx, "oUnknown", account["one_time"])["errcode"] == 40003


def test_47003_names_the_field(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    accept(sim, patient, account["one_time"])
    too_long = send(wx, patient, account["one_time"], VACCINE | {"thing3": "预防接种门诊" * 4})
    assert too_long["errcode"] == 47003 and too_long["errmsg"].startswith("argument invalid! data.thing3.value invalid")
    empty = send(wx, patient, account["one_time"], VACCINE | {"date2": ""})
    assert empty["errmsg"].startswith("argument invalid! data.date2.value is emtpy")
    missing = send(wx, patient, account["one_time"], {k: v for k, v in VACCINE.items() if k != "thing5"})
    assert missing["errcode"] == 47003 and "data.thing5" in missing["errmsg"]
    assert send(wx, patient, account["one_time"])["errcode"] == 0  # refusals used no credit


def test_sensitive_word_45168(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    accept(sim, patient, account["one_time"])
    sim.post("/_sim/sensitive-words", {"words": ["特效药"]})
    assert send(wx, patient, account["one_time"], VACCINE | {"thing5": "特效药限时抢购"})["errcode"] == 45168
    assert send(wx, patient, account["one_time"])["errcode"] == 0


def test_concurrent_sends_to_one_openid_get_43108(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    for _ in range(2):
        accept(sim, patient, account["one_time"])
    sim.post("/_sim/faults", {"path": "/cgi-bin/message/subscribe/bizsend", "latency_ms": {"fixed": 300}, "count": 1})
    results = []
    first = threading.Thread(target=lambda: results.append(send(wx, patient, account["one_time"])["errcode"]))
    first.start()
    threading.Event().wait(0.1)
    results.append(send(wx, patient, account["one_time"])["errcode"])
    first.join()
    assert sorted(results) == [0, 43108]
    assert send(wx, patient, account["one_time"])["errcode"] == 0  # a retry afterwards goes through


def test_minute_and_daily_quotas(sim, wx, account):
    wx.login()
    patient = account["openids"][0]
    for _ in range(3):
        accept(sim, patient, account["one_time"])
    sim.post(
        "/_sim/quotas",
        {"per_minute": {"/cgi-bin/message/subscribe/bizsend": 1}, "daily": {"/cgi-bin/message/subscribe/bizsend": 2}},
    )
    assert send(wx, patient, account["one_time"])["errcode"] == 0
    assert send(wx, patient, account["one_time"])["errcode"] == 45011
    sim.post("/_sim/clock", {"advance": 60})
    assert send(wx, patient, account["one_time"])["errcode"] == 0
    sim.post("/_sim/clock", {"advance": 60})
    assert send(wx, patient, account["one_time"])["errcode"] == 45009
    quota = wx("POST", "/cgi-bin/openapi/quota/get", body={"cgi_path": "/cgi-bin/message/subscribe/bizsend"})
    assert quota["quota"] == {"daily_limit": 2, "used": 2, "remain": 0}
    assert wx("POST", "/cgi-bin/clear_quota", body={"appid": APPID})["errcode"] == 0
    assert send(wx, patient, account["one_time"])["errcode"] == 0


def test_every_send_is_followed_by_a_sent_event_with_the_same_msgid(sim, wx, account, inbox):
    wx.login()
    patient = account["openids"][0]
    accept(sim, patient, account["one_time"])
    msgid = send(wx, patient, account["one_time"])["msgid"]
    sim.drain()
    messages = [read_push(q, b) for q, b in inbox.requests]
    assert isinstance(messages[0], SubscribePopupEvent) and messages[0].choices[0].popup_scene == 2
    sent = [m for m in messages if isinstance(m, SubscribeSentEvent)]
    assert len(sent) == 1 and sent[0].results[0].msg_id == msgid and sent[0].results[0].delivered
    assert sent[0].openid == patient and sent[0].account_original_id == "gh_abcdef123456"
