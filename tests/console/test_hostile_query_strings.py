"""Whatever a browser puts in a list's query string, the answer is a page or a 4xx — never a 5xx.

`?before=²` answered 500 (`"²".isdigit()` is True, `int("²")` fails); so would a 30-digit id (too big for
the database's integers) or a NUL (PostgreSQL refuses it in any text). Hypothesis tries such values
on every list and export, with the parameters each one reads and a few it does not.
"""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=True)

PARAMETERS = ["before", "state", "errcode", "openid", "kind", "q", "action", "partial", "template", "print", "page"]

values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),  # ² ٣ Ⅻ …
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(
        ["", "0", "-1", "00", "1e3", "0x10", " 7 ", "\x00", "a\x00b", "%00", "../", "sent", "live", "rows"]
    ),
)
queries = st.dictionaries(st.sampled_from(PARAMETERS) | st.text(min_size=1, max_size=8), values, max_size=4)


def lists(hospital_console) -> list[str]:
    account, sim, template, activity, campaign = hospital_console
    return [
        "/",
        "/campaigns/",
        f"/campaigns/{campaign.pk}/",
        f"/campaigns/{campaign.pk}/log/",
        f"/campaigns/{campaign.pk}/log.csv",
        f"/campaigns/templates/{template.pk}/history/",
        "/campaigns/audit/",
        "/campaigns/new/",
        "/campaigns/previewers/",
        "/inbound/",
        "/followers/",
        "/templates/",
        f"/templates/{template.pk}/",
        "/activities/",
        f"/activities/{activity.pk}/",
        f"/activities/{activity.pk}/poster/",
        "/accounts/",
    ]


@settings(
    max_examples=700, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_no_query_string_makes_a_list_answer_5xx(client: Client, hospital_console, data):
    url = data.draw(st.sampled_from(lists(hospital_console)), label="url")
    query = data.draw(queries, label="query")
    response = client.get(url, query)  # the test client re-raises a view's exception: a 500 fails loudly too
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)  # an export fails while streaming, after its 200
    assert response.status_code < 500, (url, query, response.status_code)
    assert response.status_code in (200, 302, 400, 404), (url, query, response.status_code)


@pytest.mark.parametrize(
    ("query", "status"),
    [({"before": "²"}, 200), ({"before": "9" * 30}, 200), ({"errcode": "٣"}, 200), ({"openid": "a\x00b"}, 400)],
)
def test_the_probes_examples(client, hospital_console, query, status):
    account, sim, template, activity, campaign = hospital_console
    for url in (f"/campaigns/{campaign.pk}/log/", "/campaigns/", "/inbound/", "/followers/"):
        assert client.get(url, query).status_code == status, url


def test_a_nul_in_the_callback_url_is_400_not_500(client):
    assert client.post("/wechat/wx%00/callback", data=b"<xml/>", content_type="text/xml").status_code == 400
