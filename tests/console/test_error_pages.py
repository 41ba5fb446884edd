"""Error pages speak the console's language: a mistyped address, a forbidden page, a server error — in
Chinese by default, in English when chosen; never Django's bare English "Not Found"."""

from django.contrib.auth import get_user_model
from django.template.loader import render_to_string


def test_a_missing_page_says_so_in_chinese_then_in_english(client, db):
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "找不到这个页面" in body and "Not Found" not in body and 'lang="zh-hans"' in body
    client.post("/set-language/", {"language": "en", "next": "/login/"})
    assert "This page cannot be found" in client.get("/no-such-page/").content.decode()


def test_a_forbidden_page_says_why_without_naming_what_is_there(client, personas):
    client.force_login(get_user_model().objects.get(username="bob"))  # an operator, not an administrator
    response = client.get(f"/accounts/{personas['ruikang'].pk}/edit/")
    body = response.content.decode()
    assert response.status_code == 403
    assert "没有权限访问这个页面" in body and "瑞康医院" not in body


def test_the_server_error_page_renders_without_a_request():
    # Django renders 500.html with no request and no context processors: it must stand on its own.
    body = render_to_string("500.html")
    assert "服务器出错了" in body and "/console/console." in body  # the stylesheet, by its hashed name
