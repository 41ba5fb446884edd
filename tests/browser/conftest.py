"""Playwright driving Debian's Chromium (never a downloaded browser) against a live test server."""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import skip_unless_available

CHROMIUM = os.environ.get("WXNOTIFY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("WXNOTIFY_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"))


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread until it is
    closed, which would break later tests in the same worker that call asyncio.run()."""
    skip_unless_available(bool(shutil.which(CHROMIUM)), f"Chromium at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; at the end, no page it visited logged an error on the console: no script, style or
    connection refused by the Content-Security-Policy, no file missing (a favicon, a static file the manifest
    lacks), no script error."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(f"{message.text} at {message.location.get('url')}") if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, target=None) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in_as_administrator(page, live_server, account, name: str) -> None:
    """A new administrator of `account` signs in through the login page, as a person does."""
    from django.contrib.auth import get_user_model

    from wxnotify.accounts.models import Membership

    password = f"{name}-password-1"
    user = get_user_model().objects.create_user(name, password=password)
    Membership.objects.create(user=user, account=account, role="administrator")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
