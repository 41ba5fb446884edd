"""The yardstick of the callback endpoint (`bare_django_eps`): a minimal Django view that verifies nothing
and inserts one row, served beside the real endpoint by the same gunicorn with the same settings and
middleware (`DJANGO_SETTINGS_MODULE=benchmarks.bare_settings` adds this route, nothing else)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
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


def create_table() -> None:
    key = "bigserial PRIMARY KEY" if connection.vendor == "postgresql" else "integer PRIMARY KEY AUTOINCREMENT"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key}, body text NOT NULL)")


def stored() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        return int(cursor.fetchone()[0])


urlpatterns = [path("bench/bare/", bare), *product_urls]
