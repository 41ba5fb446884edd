"""Static files as production serves them: collected, content-hashed names, compressed, cached for ever."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from wxnotify.console.management.commands.prepare_static import prepare_static


@pytest.mark.django_db
def test_pages_name_hashed_files_that_are_served_compressed_and_cached_for_ever(client):
    page = client.get("/login/").content.decode()
    css = re.search(r'href="(/static/console/console\.[0-9a-f]{12}\.css)"', page)
    assert css, "the login page names the stylesheet by its content hash"
    response = client.get(css.group(1), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    import gzip

    assert (
        gzip.decompress(body) == (Path(settings.BASE_DIR) / "wxnotify/console/static/console/console.css").read_bytes()
    )
    # The unhashed name still answers (a bookmarked URL), but may only be cached briefly.
    plain = client.get("/static/console/console.css")
    assert plain.status_code == 200 and "immutable" not in plain["Cache-Control"]


def test_collection_runs_again_only_when_the_sources_changed(settings, tmp_path):
    # A folder of its own: collecting again into the session's would pull files from under the other test
    # process's WhiteNoise while it scans them (it did, once the API's docs made a collection longer).
    settings.STATIC_ROOT = str(tmp_path / "static")
    assert prepare_static() is True  # nothing collected there yet
    assert (tmp_path / "static" / "staticfiles.json").exists()  # there, not in the session's folder
    assert prepare_static() is False  # the same sources
    stamp = Path(settings.STATIC_ROOT) / ".sources"
    stamp.write_text("sources of an older release")
    assert prepare_static() is True
    assert prepare_static() is False
