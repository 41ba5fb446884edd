"""The newtmpl template calls (docs/wechat-protocol.md §2.2), on the built-in hospital library."""

from wechat.keywords import placeholders


def test_categories_titles_and_keywords(wx, account):
    wx.login()
    categories = wx("GET", "/wxaapi/newtmpl/getcategory")["data"]
    assert {"id": 614, "name": "医疗服务 > 疫苗接种"} in categories
    titles = wx("GET", "/wxaapi/newtmpl/getpubtemplatetitles", {"ids": "612,614", "start": 0, "limit": 30})
    assert titles["count"] == len(titles["data"]) >= 3
    assert {t["title"] for t in titles["data"]} >= {"预约成功通知", "疫苗到货通知"}
    assert all(isinstance(t["categoryId"], str) for t in titles["data"])
    keywords = wx("GET", "/wxaapi/newtmpl/getpubtemplatekeywords", {"tid": 5004})["data"]
    assert keywords[0] == {"kid": 1, "name": "疫苗名称", "example": "九价HPV疫苗", "rule": "thing"}


def test_template_call_errors(wx, account):
    wx.login()
    assert wx("GET", "/wxaapi/newtmpl/getpubtemplatetitles", {"ids": "612", "limit": 31})["errcode"] == 200017
    assert wx("GET", "/wxaapi/newtmpl/getpubtemplatetitles", {"limit": 10})["errcode"] == 200018
    assert wx("GET", "/wxaapi/newtmpl/getpubtemplatetitles", {"ids": "612", "start": -1})["errcode"] == 200016
    assert wx("GET", "/wxaapi/newtmpl/getpubtemplatekeywords", {"tid": 1})["errcode"] == 200014
    add = "/wxaapi/newtmpl/addtemplate"
    assert wx("POST", add, body={"tid": "5004", "kidList": [1], "sceneDesc": "x"})["errcode"] == 200020
    assert wx("POST", add, body={"tid": "5004", "kidList": [1, 2, 3, 4, 5, 6]})["errcode"] == 200020
    assert wx("POST", add, body={"tid": "5004", "kidList": [1, 2], "sceneDesc": "一" * 16})["errcode"] == 200021
    assert wx("POST", add, body={"tid": "9", "kidList": [1, 2]})["errcode"] == 200014
    assert wx("GET", add)["errcode"] == 43002


def test_add_get_and_delete_a_template(wx, account):
    wx.login()
    tid = wx("POST", "/wxaapi/newtmpl/addtemplate", body={"tid": "5003", "kidList": [1, 2, 4], "sceneDesc": "义诊"})[
        "priTmplId"
    ]
    templates = {t["priTmplId"]: t for t in wx("GET", "/wxaapi/newtmpl/gettemplate")["data"]}
    assert templates[tid]["title"] == "活动报名提醒" and templates[tid]["type"] == 2
    assert placeholders(templates[tid]["content"]) == ["thing1", "time2", "phrase4"]
    assert templates[account["long_term"]]["type"] == 3
    assert wx("POST", "/wxaapi/newtmpl/deltemplate", body={"priTmplId": tid})["errcode"] == 0
    assert tid not in {t["priTmplId"] for t in wx("GET", "/wxaapi/newtmpl/gettemplate")["data"]}
    assert wx("POST", "/wxaapi/newtmpl/deltemplate", body={"priTmplId": tid})["errcode"] == 40037
