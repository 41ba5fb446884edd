"""The security probe's hostile run against the callback endpoint, repeatable: forged, replayed, stale,
oversized and malformed pushes, many in flight, against gunicorn as the demo runs it.

`python -m benchmarks.hostile_callbacks [--pushes 10000] [--concurrency 50] [--app-dir DIR] [--postgres]`
starts the web app on a throwaway database (SQLite, or with --postgres one made on DATABASE_URL's server
and dropped after), connects three hospitals (safe, compatible
and plaintext mode), lets each receive one real push (the attacker's material: its signature, timestamp
and nonce), fires the mix, then one valid push. It prints what came back by kind, how many were stored
(should be 0), dropped connections, requests/s and p99, the log lines written and the refusal counts
the console shows. `--app-dir` serves another checkout (say the commit before a fix) with this run's
attacks, so before and after are measured the same way.

The suite runs a smaller mix (tests/callbacks/test_hostile_run.py) with the same code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = 86400
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


@dataclass(frozen=True)
class Attack:
    kind: str
    path: str  # with the query string
    body: bytes


@dataclass(frozen=True)
class Hospital:
    appid: str
    original_id: str
    token: str
    mode: str


def make_hospitals() -> dict[str, Hospital]:
    """Three accounts, one per message mode, in the database Django is set up on."""
    from wxnotify.accounts.models import OfficialAccount

    hospitals = {}
    for n, mode in enumerate(("safe", "compatible", "plaintext"), start=1):
        account, _ = OfficialAccount.objects.get_or_create(
            appid=f"wxhostile{n:09d}",
            defaults={
                "name": f"probe {mode}",
                "original_id": f"gh_hostile{n:05d}",
                "app_secret": "s" * 32,
                "callback_token": f"probetoken{n}",
                "encoding_aes_key": AES_KEY,
                "message_mode": mode,
            },
        )
        hospitals[mode] = Hospital(account.appid, account.original_id, account.callback_token, mode)
    return hospitals


def _event(h: Hospital, openid: str, *, create_time: int | None = None, kind: str = "subscribe") -> bytes:
    from wechat.messages import FollowEvent, MenuClickEvent
    from wechat.xmlcodec import render_message

    at = create_time if create_time is not None else int(time.time())
    message = (
        FollowEvent(account_original_id=h.original_id, openid=openid, create_time=at, msg_type="event")
        if kind == "subscribe"
        else MenuClickEvent(
            account_original_id=h.original_id, openid=openid, create_time=at, msg_type="event", key="MENU_VACCINE"
        )
    )
    return render_message(message)


def _push(
    h: Hospital, xml: bytes, *, timestamp: int | None = None, mode: str | None = None
) -> tuple[dict[str, str], bytes]:
    from wechat.push import build_push

    built = build_push(
        xml, token=h.token, appid=h.appid, mode=mode or h.mode, encoding_aes_key=AES_KEY, timestamp=timestamp
    )
    return built.query, built.body


def _encrypted(h: Hospital, inner: bytes) -> tuple[dict[str, str], bytes]:
    """A push whose inner XML is anything: the attacker knows the token and the key (the worst case)."""
    from wechat.crypto import MessageCrypto
    from wechat.signature import callback_signature
    from wechat.xmlcodec import render_encrypted_push

    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    envelope = MessageCrypto(token=h.token, encoding_aes_keys=[AES_KEY], appid=h.appid).encrypt(
        inner, timestamp=timestamp, nonce=nonce
    )
    query = {
        "signature": callback_signature(h.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": envelope.msg_signature,
    }
    return query, render_encrypted_push(account_original_id=h.original_id, encrypt=envelope.encrypt)


def _path(h: Hospital | str, query: dict[str, str]) -> str:
    appid = h.appid if isinstance(h, Hospital) else h
    return f"/wechat/{appid}/callback?{urlencode(query)}"


def real_pushes(hospitals: dict[str, Hospital]) -> dict[str, tuple[dict[str, str], bytes]]:
    """One genuine push per hospital, delivered before the attack: what an eavesdropper has seen."""
    return {mode: _push(h, _event(h, f"oGenuine{mode:<20}"[:28].replace(" ", "x"))) for mode, h in hospitals.items()}


def attacks(
    hospitals: dict[str, Hospital], seen: dict[str, tuple[dict[str, str], bytes]], n: int, seed: int = 7
) -> list[Attack]:
    """n hostile pushes in the probe's mix; none of them may be stored."""
    rng = random.Random(seed)
    safe, compatible, plain = hospitals["safe"], hospitals["compatible"], hospitals["plaintext"]
    now = int(time.time())

    def victim() -> str:
        return f"oVictim{rng.randrange(10**12):021d}"

    def forged_signature() -> Attack:
        h = rng.choice(list(hospitals.values()))
        query, body = _push(h, _event(h, victim()))
        return Attack("forged_signature", _path(h, query | {"signature": secrets.token_hex(20)}), body)

    def compatible_reposted_as_plaintext() -> Attack:
        query, _ = seen["compatible"]
        sig = {k: query[k] for k in ("signature", "timestamp", "nonce", "openid")}
        return Attack(
            "compatible_reposted_as_plaintext", _path(compatible, sig), _event(compatible, victim(), kind="click")
        )

    def replayed_with_another_body() -> Attack:
        query, _ = seen["plaintext"]
        return Attack("replayed_with_another_body", _path(plain, query), _event(plain, victim(), kind="click"))

    def stale(days: int) -> Attack:
        h = rng.choice(list(hospitals.values()))
        query, body = _push(h, _event(h, victim()), timestamp=now + days * DAY)
        return Attack("dated_two_days_ago" if days < 0 else "dated_two_days_ahead", _path(h, query), body)

    def plaintext_to_safe() -> Attack:
        query, body = _push(safe, _event(safe, victim()), mode="plaintext")
        return Attack("plaintext_to_safe_mode", _path(safe, query), body)

    def bad_msg_signature() -> Attack:
        query, body = _push(safe, _event(safe, victim()))
        return Attack("bad_msg_signature", _path(safe, query | {"msg_signature": secrets.token_hex(20)}), body)

    def oversized() -> Attack:
        query, _ = _push(plain, _event(plain, victim()))
        return Attack(
            "oversized_body", _path(plain, query), b"<xml>" + b" " * rng.choice([70_000, 200_000]) + b"</xml>"
        )

    def xxe() -> Attack:
        inner = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><ToUserName>&x;</ToUserName></xml>'
        query, body = _encrypted(safe, inner)
        return Attack("xxe_inside_valid_encryption", _path(safe, query), body)

    def impossible_create_time() -> Attack:
        inner = _event(safe, victim(), create_time=1).replace(b"<CreateTime>1<", f"<CreateTime>{2**63 - 1}<".encode())
        query, body = _encrypted(safe, inner)
        return Attack("impossible_create_time", _path(safe, query), body)

    def long_openid() -> Attack:
        query, body = _encrypted(safe, _event(safe, "o" * 300))
        return Attack("openid_longer_than_wechats", _path(safe, query), body)

    def wrong_account() -> Attack:
        inner = _event(safe, victim()).replace(safe.original_id.encode(), b"gh_someoneelse1")
        query, body = _encrypted(safe, inner)
        return Attack("addressed_to_another_account", _path(safe, query), body)

    def malformed() -> Attack:
        query, _ = _push(plain, _event(plain, victim()))
        query = query | {"nonce": str(rng.randrange(10**10))}
        from wechat.signature import callback_signature

        query["signature"] = callback_signature(plain.token, query["timestamp"], query["nonce"])
        return Attack("malformed_xml", _path(plain, query), rng.choice([b"<xml>", b"{}", b"\xff\xfe<x>", b""]))

    def unknown_account() -> Attack:
        query, body = _push(safe, _event(safe, victim()))
        return Attack("unknown_appid", _path("wxnosuchaccount01", query), body)

    def nul_in_url() -> Attack:
        return Attack("nul_in_url", "/wechat/wx%00/callback?signature=a&timestamp=1&nonce=2", b"<xml/>")

    makers = [
        forged_signature,
        compatible_reposted_as_plaintext,
        replayed_with_another_body,
        lambda: stale(-2),
        lambda: stale(2),
        plaintext_to_safe,
        bad_msg_signature,
        oversized,
        xxe,
        impossible_create_time,
        long_openid,
        wrong_account,
        malformed,
        unknown_account,
        nul_in_url,
    ]
    return [makers[i % len(makers)]() for i in range(n)]


async def fire(base: str, batch: list[Attack], concurrency: int) -> list[tuple[str, str, float]]:
    """(kind, outcome, seconds) per attack; outcome is the status, or the error when the connection broke."""
    results: list[tuple[str, str, float]] = []
    queue = iter(batch)

    async def worker(session: aiohttp.ClientSession) -> None:
        for attack in queue:
            started = time.perf_counter()
            try:
                async with session.post(
                    base + attack.path, data=attack.body, headers={"Content-Type": "text/xml"}
                ) as response:
                    await response.read()
                    outcome = str(response.status)
            except aiohttp.ClientError as error:
                outcome = f"dropped ({type(error).__name__})"
            results.append((attack.kind, outcome, time.perf_counter() - started))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return results


def post(base: str, path: str, body: bytes) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(base + path, data=body, headers={"Content-Type": "text/xml"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def summarize(results: list[tuple[str, str, float]], elapsed: float) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, outcome, _ in results:
        by_kind[kind][outcome] += 1
    latencies = [seconds for _, _, seconds in results]
    statuses = Counter(outcome for _, outcome, _ in results)
    return {
        "pushes": len(results),
        "statuses": dict(sorted(statuses.items())),
        "by_kind": {kind: dict(sorted(c.items())) for kind, c in sorted(by_kind.items())},
        "responses_5xx": sum(n for outcome, n in statuses.items() if outcome.startswith("5")),
        "dropped_connections": sum(n for outcome, n in statuses.items() if outcome.startswith("dropped")),
        "requests_per_s": round(len(results) / elapsed) if elapsed else 0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
    }


def run(base: str, hospitals: dict[str, Hospital], *, pushes: int, concurrency: int) -> dict[str, Any]:
    """Prime, attack, then check a valid push still gets in once. Counts rows through the ORM."""
    from wxnotify.callbacks.models import InboundMessage

    seen = real_pushes(hospitals)
    for mode, (query, body) in seen.items():
        status, answer = post(base, _path(hospitals[mode], query), body)
        assert status == 200, (mode, status, answer[:200])
    stored_before = InboundMessage.objects.count()
    batch = attacks(hospitals, seen, pushes)
    began = time.perf_counter()
    results = asyncio.run(fire(base, batch, concurrency))
    elapsed = time.perf_counter() - began
    summary = summarize(results, elapsed)
    summary["stored"] = InboundMessage.objects.count() - stored_before
    h = hospitals["safe"]
    valid = _event(h, "oAfterTheAttack000000000001")
    query, body = _push(h, valid)
    summary["valid_push_after"] = post(base, _path(h, query), body)[0]
    retry_query, retry_body = _push(h, valid)  # WeChat's retry: the same message, a fresh nonce and signature
    summary["valid_retry_after"] = post(base, _path(h, retry_query), retry_body)[0]
    rows = InboundMessage.objects.filter(openid="oAfterTheAttack000000000001")
    summary["valid_push_stored"] = rows.count()
    summary["valid_push_times_received"] = rows.values_list("times_received", flat=True).first()
    return summary


def refusal_counts(hospitals: dict[str, Hospital]) -> dict[str, int]:
    from django.db.models import Sum

    from wxnotify.callbacks.models import RefusedPushes

    rows = (
        RefusedPushes.objects.filter(account__appid__in=[h.appid for h in hospitals.values()])
        .values("reason")
        .annotate(n=Sum("count"))
    )
    return {r["reason"]: int(r["n"]) for r in rows}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--app-dir", default=str(ROOT), help="the checkout whose web app is attacked")
    parser.add_argument("--postgres", action="store_true", help="on DATABASE_URL's server (default: SQLite)")
    args = parser.parse_args()
    from benchmarks.throwaway import throwaway_database

    with throwaway_database(postgres=args.postgres, prefix="hostile") as var_dir:
        summary = attack_a_web_app(args, var_dir)
    summary["app_dir"] = str(Path(args.app_dir).resolve())
    summary["database"] = "postgresql" if args.postgres else "sqlite"
    summary["concurrency"] = args.concurrency
    summary["gunicorn"] = f"{args.workers} workers × {args.threads} threads"
    return summary


def attack_a_web_app(args: argparse.Namespace, var_dir: str) -> dict[str, Any]:
    hospitals = make_hospitals()
    log_path = Path(var_dir) / "web.log"
    app_dir = Path(args.app_dir).resolve()
    conf = app_dir / "config" / "gunicorn.conf.py"
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{args.port}"]
    command += ["--workers", str(args.workers), "--threads", str(args.threads), "--log-level", "warning"]
    command += ["-c", str(conf)] if conf.exists() else []
    env = os.environ | {"WXNOTIFY_VAR_DIR": var_dir, "PYTHONPATH": str(app_dir)}
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=app_dir, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{args.port}"
    try:
        from wxsim.client import wait_until_up

        wait_until_up(f"{base}/login/", seconds=60, process=server)
        lines_before = len(log_path.read_bytes().splitlines())
        summary = run(base, hospitals, pushes=args.pushes, concurrency=args.concurrency)
        time.sleep(6)  # refusal counts are written every 5 s
        summary["log_lines_written"] = len(log_path.read_bytes().splitlines()) - lines_before
    finally:
        server.terminate()
        server.wait(timeout=15)
    summary["refusals_counted"] = refusal_counts(hospitals)
    return summary


if __name__ == "__main__":
    from benchmarks.summary import record

    record("hostile_callbacks", main())
