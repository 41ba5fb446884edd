"""Every page a browser gets: a Content-Security-Policy without inline scripts, nothing cached, and no
inline script or on…= handler in the HTML itself (which the policy would refuse, breaking the page)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


class Page(HTMLParser):
    """The links of a page, and whatever in it would run as inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.inline.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "hx-get") and value and value.lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}=javascript:…>")
        if (
            tag == "script"
            and "src" not in values
            and values.get("type") not in ("application/json", "text/wxtag-template")
        ):
            self.inline.append("<script> without src")
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))


def check_headers(url: str, response) -> None:
    policy = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
    assert "'self'" in script_src and "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, url
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, url
    assert "no-store" in response["Cache-Control"], url


def test_every_console_page_reachable_from_the_dashboard(client, hospital_console):
    """Follows every same-site link from the dashboard (query variants included) and reads each page."""
    seen: set[str] = set()
    queue = ["/"]
    pages = 0
    while queue and pages < 250:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code in (301, 302):
            queue.append(response["Location"])
            continue
        assert response.status_code == 200, (url, response.status_code)
        check_headers(url, response)
        pages += 1
        if not response["Content-Type"].startswith("text/html"):
            continue
        parser = Page()
        parser.feed(response.content.decode())
        assert not parser.inline, (url, parser.inline)
        for link in parser.links:
            target = urljoin(url, link)
            parts = urlsplit(target)
            if parts.netloc or parts.path.startswith(("/logout", "/static/", "/s/")):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert pages >= 25, sorted(seen)  # the crawl really went through the console
    assert [p for p in seen if ".csv" in p or "format=csv" in p], "the crawl reached no CSV export"


def test_the_patient_page_allows_wechats_script_and_nothing_inline(client, hospital_console):
    from tests.subscriptions.test_patient_page import WECHAT_UA, wechat_code

    account, sim, template, activity, campaign = hospital_console
    patient = client.__class__(HTTP_USER_AGENT=WECHAT_UA)
    start = patient.get(f"/s/{activity.code}/")
    from urllib.parse import parse_qs

    query = parse_qs(urlsplit(start["Location"]).query)
    openid = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    patient.get(f"/s/{activity.code}/oauth", {"code": wechat_code(sim, query, openid), "state": query["state"][0]})
    page = patient.get(f"/s/{activity.code}/")
    assert page.status_code == 200 and "一键订阅提醒" in page.content.decode()
    check_headers("/s/", page)
    script_src = re.search(r"script-src ([^;]*)", page["Content-Security-Policy"]).group(1).split()
    assert sim.base_url in script_src  # the JS-SDK's origin, on this page only
    assert sim.base_url not in client.get("/")["Content-Security-Policy"]
    parser = Page()
    parser.feed(page.content.decode())
    assert not parser.inline
    check_headers("/s/status", patient.get(f"/s/{activity.code}/status"))


def test_production_settings_pass_djangos_deployment_checks():
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "WXNOTIFY_PRODUCTION": "1",
        "DJANGO_SECRET_KEY": "x7Gq2vLk9Pz4Rt8Wm3Yc6Nb1Hd5Jf0Sa-Ue2Io7Kp4Lq9Xr3Zt8Vw1Mn6By5Cg0Dh",
        "WXNOTIFY_FIELD_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        "WXNOTIFY_ALLOWED_HOSTS": "wx.example-hospital.cn",
    }
    for inherited in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):  # the latter set by the browser tests
        env.pop(inherited, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_https_redirect_and_hsts_behind_a_proxy(settings):
    """In production: plain HTTP is redirected; through a proxy that says the client used HTTPS, HSTS is sent."""
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()  # a new handler reads the security settings
    plain = client.get("/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/login/"
    proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200 and "max-age=31536000" in proxied["Strict-Transport-Security"]
