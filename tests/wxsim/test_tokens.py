"""Tokens behave as WeChat documents (docs/wechat-protocol.md §1): rotation with a 5-minute overlap, expiry, quotas."""

from tests.wxsim.conftest import APPID, SECRET


def test_token_rotation_keeps_the_old_token_for_five_minutes(sim, wx, account):
    first = wx.login()
    second = wx.login()
    assert first != second
    assert wx("GET", "/cgi-bin/user/info", {"access_token": first, "openid": account["openids"][0]})["subscribe"] == 1
    sim.post("/_sim/clock", {"advance": 299})
    assert wx("GET", "/cgi-bin/user/get", {"access_token": first}).get("errcode") is None
    sim.post("/_sim/clock", {"advance": 2})
    stale = wx("GET", "/cgi-bin/user/get", {"access_token": first})
    assert stale["errcode"] == 40001 and "rid: " in stale["errmsg"]
    assert wx("GET", "/cgi-bin/user/get", {"access_token": second}).get("errcode") is None


def test_a_new_token_answers_its_whole_lifetime_a_stable_one_the_time_left(sim, wx, account):
    fetched = wx("GET", "/cgi-bin/token", {"grant_type": "client_credential", "appid": APPID, "secret": SECRET})
    assert fetched["expires_in"] == 7200
    first = stable(wx)
    sim.post("/_sim/clock", {"advance": 1000})
    again = stable(wx)
    assert again["access_token"] == first["access_token"] and 6199 <= again["expires_in"] <= 6200


def test_expired_unknown_and_missing_tokens(sim, wx, account):
    token = wx.login()
    sim.post("/_sim/clock", {"advance": 7201})
    assert wx("GET", "/cgi-bin/user/get", {"access_token": token})["errcode"] == 42001
    assert wx("GET", "/cgi-bin/user/get", {"access_token": "not-a-token"})["errcode"] == 40014
    assert wx("GET", "/cgi-bin/user/get", {"access_token": ""})["errcode"] == 41001


def test_token_fetch_errors(sim, wx, account):
    bad_secret = wx(
        "GET", "/cgi-bin/token", {"grant_type": "client_credential", "appid": APPID, "secret": "nope"}, token=False
    )
    assert bad_secret["errcode"] == 40125
    bad_appid = wx(
        "GET", "/cgi-bin/token", {"grant_type": "client_credential", "appid": "wx0", "secret": SECRET}, token=False
    )
    assert bad_appid["errcode"] == 40013
    bad_grant = wx("GET", "/cgi-bin/token", {"grant_type": "password", "appid": APPID, "secret": SECRET}, token=False)
    assert bad_grant["errcode"] == 40002


def test_token_daily_quota_gives_45009(sim, wx, account):
    sim.post("/_sim/quotas", {"daily": {"/cgi-bin/token": 3}})
    for _ in range(3):
        wx.login()
    over = wx(
        "GET", "/cgi-bin/token", {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}, token=False
    )
    assert over["errcode"] == 45009


def stable(wx, force=False):
    return wx(
        "POST",
        "/cgi-bin/stable_token",
        body={"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force},
        token=False,
    )


def test_stable_token_is_the_same_until_five_minutes_before_expiry(sim, wx, account):
    a = stable(wx)
    assert stable(wx)["access_token"] == a["access_token"]
    sim.post("/_sim/clock", {"advance": 7200 - 299})
    b = stable(wx)
    assert b["access_token"] != a["access_token"] and b["expires_in"] >= 300
    assert wx("GET", "/cgi-bin/user/get", {"access_token": a["access_token"]}).get("errcode") is None  # hand-over


def test_forced_stable_token_rotates_at_most_every_30_seconds_and_kills_the_old_one(sim, wx, account):
    a = stable(wx)["access_token"]
    b = stable(wx, force=True)["access_token"]
    assert a != b
    assert wx("GET", "/cgi-bin/user/get", {"access_token": a})["errcode"] == 40001
    assert stable(wx, force=True)["access_token"] == b  # within 30 s: no refresh
    sim.post("/_sim/clock", {"advance": 31})
    assert stable(wx, force=True)["access_token"] != b


def test_invalidate_token_fault(sim, wx, account):
    token = wx.login()
    assert sim.post(f"/_sim/accounts/{APPID}/invalidate-token")["invalidated"] >= 1
    assert wx("GET", "/cgi-bin/user/get", {"access_token": token})["errcode"] == 40001
    wx.login()
    assert wx("GET", "/cgi-bin/user/get").get("errcode") is None
