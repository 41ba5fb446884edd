"""A database that goes away for a moment (PostgreSQL restarted: every connection cut, a few seconds
refused) is waited out, not the end of a send or of a push WeChat would have to retry."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.conftest import as_account, fixture_xml, skip_unless_available
from wxnotify.callbacks.models import InboundMessage
from wxnotify.campaigns.models import Campaign
from wxnotify.outages import through_outages

pytestmark = pytest.mark.django_db(transaction=True)


def cut_this_connection() -> int:
    """What a restart does to a connection: the server ends it. Returns its backend pid."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def test_an_operation_rides_out_a_lost_postgresql_connection():
    """PostgreSQL restarted under a running send (here: its connection terminated by the server, as a restart
    does): the operation runs again on a new connection instead of killing the engine; an error of a database
    that still answers is raised at once."""
    skip_unless_available(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    calls = []

    def read() -> int:
        calls.append(connection.connection.info.backend_pid if connection.connection else None)
        return Campaign.objects.count()

    first = cut_this_connection()
    assert through_outages(read) == 0
    assert len(calls) == 2 and calls[0] == first and connection.connection.info.backend_pid != first

    def broken() -> None:
        calls.append("broken")
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    calls.clear()
    with pytest.raises(Exception, match="no_such_table"):
        through_outages(broken)
    assert calls == ["broken"]


def test_a_push_during_the_outage_is_held_and_stored_not_refused(push, make_account):
    """The callback's connection was cut: the push is answered "success" and stored once, on a new connection,
    instead of a 500 that WeChat would have to retry (and give up after three)."""
    skip_unless_available(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    account = make_account(mode="safe")
    cut_this_connection()
    answer = push(account, as_account(fixture_xml("follow.xml"), account))
    assert answer.status_code == 200 and answer.content == b"success"
    assert InboundMessage.objects.filter(account=account, event="subscribe").count() == 1
