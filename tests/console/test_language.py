"""Chinese by default, English on request, with the translations shipped compiled (no system gettext needed)."""

import gettext
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parents[2] / "wxnotify" / "locale"


def test_compiled_catalog_matches_the_po_file():
    """The committed .mo must be recompiled (`make messages`) whenever the .po changes."""
    with open(LOCALE / "en/LC_MESSAGES/django.po", "rb") as f:
        catalog = read_po(f, locale="en")
    with open(LOCALE / "en/LC_MESSAGES/django.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    checked = 0
    for message in catalog:
        if not message.id or isinstance(message.id, tuple):
            continue
        assert message.string, f"untranslated: {message.id}"
        translated = compiled.pgettext(message.context, message.id) if message.context else compiled.gettext(message.id)
        assert translated == message.string, message.id
        checked += 1
    assert checked > 50


def test_switching_to_english_and_back(client, personas):
    client.force_login(personas["alice"])
    assert "当前粉丝" in client.get("/").content.decode()
    response = client.post("/set-language/", {"language": "en", "next": "/"}, follow=True)
    body = response.content.decode()
    assert "Following now" in body and "当前粉丝" not in body and 'lang="en"' in body
    client.post("/set-language/", {"language": "zh-hans", "next": "/"})
    assert "当前粉丝" in client.get("/").content.decode()


def test_times_are_shown_in_beijing_time(client, personas, push):
    from tests.conftest import as_account, fixture_xml

    ruikang = personas["ruikang"]
    push(ruikang, as_account(fixture_xml("text.xml"), ruikang))  # CreateTime 1610969445 = 2021-01-18 11:30:45 UTC
    client.force_login(personas["alice"])
    assert "2021-01-18 19:30:45" in client.get("/inbound/").content.decode()


def test_language_switch_works_before_login(client, db):
    response = client.post("/set-language/", {"language": "en", "next": "/login/"}, follow=True)
    assert "Log in to wxnotify" in response.content.decode()


def test_an_english_browser_still_gets_chinese_until_english_is_chosen(client, db):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "登录 wxnotify" in response.content.decode()
