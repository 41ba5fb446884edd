"""Every page needs a login, except the WeChat callback, the login page, the language switch, the patient pages
a notification's tracked link (its signed code is the proof, `tests/campaigns/test_clicks.py`) and the icon."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"callbacks:callback", "login", "set_language", "click:follow", "favicon"} | {
    f"subscribe:{name}"
    for name in ("page", "oauth", "status", "confirm", "confirmed")  # patient pages
}


def named_routes(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{pattern.namespace}:" if pattern.namespace else ""
            yield from named_routes(pattern, prefix + ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name, pattern


def sample_url(name, pattern):
    from django.urls import reverse

    kwargs = {
        key: (1 if conv.regex == "[0-9]+" else "wx0000000000000001") for key, conv in pattern.pattern.converters.items()
    }
    return reverse(name, kwargs=kwargs)


@pytest.mark.django_db
def test_every_named_route_but_the_public_ones_redirects_anonymous_users_to_login(client):
    checked = 0
    for name, pattern in named_routes():
        if name in PUBLIC or name.startswith("api:"):
            continue
        url = sample_url(name, pattern)
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, f"{name} {url} answered {response.status_code} without login"
            assert response["Location"].startswith("/login/"), name
        checked += 1
    assert checked >= 8  # the crawl really found the console


@pytest.mark.django_db
def test_every_api_route_but_its_document_wants_a_token(client):
    """The API knows no login: without a token every call is a JSON 401 (or 405 for a method it lacks)."""
    checked = 0
    for name, pattern in named_routes():
        # the document and its docs are public; "api-root" is django-ninja's name for /api/v1/ itself (a 404)
        if not name.startswith("api:") or name in ("api:openapi-json", "api:openapi-view", "api:api-root"):
            continue
        url = sample_url(name, pattern)
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (401, 405), f"{name} {url} answered {response.status_code} without a token"
            if response.status_code == 401:
                assert response.json()["code"] == "unauthorized", name
        checked += 1
    assert checked >= 3


@pytest.mark.django_db
def test_login_page_is_chinese_by_default(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert "登录 wxnotify" in response.content.decode()
    assert 'lang="zh-hans"' in response.content.decode()
