"""Schemathesis against our own OpenAPI document: generated requests to every operation (bounded examples
each: WXNOTIFY_SCHEMATHESIS_EXAMPLES, 10 by default, more in .ci/run) answer no 5xx, only documented status
codes, and bodies that match their schemas. The app runs in-process (WSGI) on the test database, with a token
of every scope and an account that has a template, an activity and a notification to find."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.test_tokens_and_reads import person
from tests.subscriptions.conftest import make_activity, make_template
from wxnotify.api import tokens
from wxnotify.campaigns.models import Campaign

# No 5xx, documented status codes, content types, headers and bodies. Left out: "schema-valid data is
# accepted" (a schema cannot say that a template id must be one of the account's) and "schema-violating data
# is refused" (it counts a query parameter we do not know, like a client's cache-buster, as a violation).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("WXNOTIFY_SCHEMATHESIS_EXAMPLES", "10"))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def kept_connection():
    """As Django's test client does: a finished request must not close the test's database connection
    (the test database lives in it, and its transaction is the test's)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, kept_connection, make_account, settings):
    settings.WXNOTIFY_API_RATE = (1_000_000, 60)  # the limit has its own test; here it would only hide answers
    account = make_account()
    template = make_template(account, template_id="TPL_VACCINE")
    activity = make_activity(account, template)
    Campaign.objects.create(
        account=account, template=template, name="HPV", audience="activity", activity=activity, data={}
    )
    _t, text = tokens.issue(
        account=account, name="schemathesis", scopes=["read", "write", "send"], user=person(account)
    )
    return {"Authorization": f"Bearer {text}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
