"""The yardsticks of the callback endpoint (`bare_django_eps`: a minimal Django view that verifies nothing
and inserts one row) and of the API (`bare_json`: one row read, as JSON), served beside the real endpoints
by the same gunicorn with the same settings and middleware (`DJANGO_SETTINGS_MODULE=benchmarks.bare_settings`
adds these routes, nothing else)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as product_urls

TABLE = "bench_bare_push"


@csrf_exempt
@login_not_required
@require_POST
def bare(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (body) VALUES (%s)", [request.body.decode(errors="replace")])
    return HttpResponse("success")


@login_not_required
def bare_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The API's yardstick: one read of a campaign's row, as JSON (no token, no counts, nothing written)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name, state FROM campaigns_campaign WHERE id = %s", [pk])
        row = cursor.fetchone()
    return JsonResponse({"id": row[0], "name": row[1], "state": row[2]})


def create_table() -> None:
    key = "bigserial PRIMARY KEY" if connection.vendor == "postgresql" else "integer PRIMARY KEY AUTOINCREMENT"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key}, body text NOT NULL)")


def stored() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        return int(cursor.fetchone()[0])


urlpatterns = [path("bench/bare/", bare), path("bench/bare-json/<int:pk>", bare_json), *product_urls]
