"""The security probe's hostile run, smaller, in the suite: thousands of forged, replayed, stale, oversized
and malformed pushes, many in flight, against gunicorn as production runs it, on this test's database.

Nothing is stored, nothing answers 5xx, no connection announced as kept is dropped, every refusal is
counted for the console, the log stays short; a valid push right after is stored once.
"""

from __future__ import annotations

import pytest

from benchmarks.hostile_callbacks import make_hospitals, refusal_counts, run
from tests.conftest import running_web_app

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = {
    "forged_signature": "403",
    "compatible_reposted_as_plaintext": "403",
    "replayed_with_another_body": "403",
    "dated_two_days_ago": "403",
    "dated_two_days_ahead": "403",
    "plaintext_to_safe_mode": "403",
    "bad_msg_signature": "403",
    "oversized_body": "400",
    "xxe_inside_valid_encryption": "400",
    "impossible_create_time": "400",
    "openid_longer_than_wechats": "400",
    "addressed_to_another_account": "400",
    "malformed_xml": "400",
    "unknown_appid": "404",
    "nul_in_url": "400",
}


def test_a_hostile_run_stores_nothing_and_breaks_nothing():
    hospitals = make_hospitals()
    with running_web_app(workers=2, threads=4, WXNOTIFY_REFUSAL_FLUSH_SECONDS="0", WXNOTIFY_LOG_LEVEL="INFO") as (
        base,
        log,
    ):
        before = len(log.read_bytes().splitlines())
        summary = run(base, hospitals, pushes=3000, concurrency=30)
        lines = len(log.read_bytes().splitlines()) - before

    assert summary["responses_5xx"] == 0 and summary["dropped_connections"] == 0, summary["statuses"]
    assert summary["stored"] == 0
    assert {kind: set(outcomes) for kind, outcomes in summary["by_kind"].items()} == {
        kind: {status} for kind, status in EXPECTED.items()
    }
    assert (summary["valid_push_after"], summary["valid_retry_after"]) == (200, 200)
    assert (summary["valid_push_stored"], summary["valid_push_times_received"]) == (1, 2)
    refused_at_known_accounts = sum(
        n
        for kind, outcomes in summary["by_kind"].items()
        if kind not in ("unknown_appid", "nul_in_url")
        for n in outcomes.values()
    )
    assert sum(refusal_counts(hospitals).values()) == refused_at_known_accounts
    # one line per account, reason and minute (and gunicorn's start), not one or two per refusal
    assert lines < 60, log.read_text()[-3000:]
