"""Keyword replies with 2,000 rules: how long the callback takes to answer a patient's message.

`python -m benchmarks.keyword_replies [--rules 2000] [--messages 3000] [--concurrency 4 16] [--postgres]`
measures two things on the same machine in one run:
- the matcher alone (in this process): microseconds per message for an exact hit, a "contains" hit on
  the last rule, and a miss answered by the default reply;
- the endpoint (gunicorn as the demo runs it, safe mode): p50/p99 server time of text pushes answered
  from 2,000 rules, beside the same pushes to an account with no rules — the ratio is what the rules cost.
WeChat waits 5 seconds for the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.callback_throughput import fire, percentile  # noqa: E402 - after the path is set
from benchmarks.throwaway import throwaway_database  # noqa: E402
from wxsim.client import ServerURL, wait_until_up  # noqa: E402

AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


def make_account(n: int, rules: int) -> Any:
    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.engagement import ruleset
    from wxnotify.engagement.models import KeywordRule

    account = OfficialAccount.objects.create(
        name=f"rules {rules}",
        appid=f"wxrules{n:011d}",
        original_id=f"gh_rules{n:07d}",
        app_secret="s" * 32,
        callback_token="rulestoken",
        encoding_aes_key=AES_KEY,
        message_mode="safe",
    )
    made = []
    for i in range(rules):
        match = "exact" if i % 2 else "contains"
        made.append(
            KeywordRule(
                account=account,
                name=f"规则{i}",
                match=match,
                keywords=f"问题{i:04d}\n科室{i:04d}",
                priority=i,
                reply_kind="text",
                text=f"第 {i} 条规则的回复",
            )
        )
    if rules:
        made.append(
            KeywordRule(account=account, name="默认", match="default", priority=10**6, reply_kind="text", text="您好")
        )
        KeywordRule.objects.bulk_create(made)
        ruleset.bump(account)
    return account


def questions(rules: int, count: int) -> list[str]:
    """A third exact hits, a third "contains" hits deep in the list, a third misses (the default reply)."""
    out = []
    for i in range(count):
        if i % 3 == 0:
            out.append(f"问题{(2 * i + 1) % max(rules, 1):04d}")
        elif i % 3 == 1:
            out.append(f"请问科室{(rules - 2 - 2 * (i % 50)) % max(rules, 1):04d}在几楼")
        else:
            out.append("停车场在哪里")
    return out


def pushes(account: Any, url: str, texts: list[str], offset: int) -> list[tuple[str, bytes]]:
    """Patients' texts to `account`'s callback at `url`, each a signed URL and an encrypted body."""
    from wechat.messages import TextMessage

    server = ServerURL(url, token=account.callback_token, appid=account.appid, encoding_aes_key=AES_KEY)
    return [
        server.signed(
            TextMessage(
                account_original_id=account.original_id,
                openid=f"oRules{i % 500:022d}",
                create_time=int(time.time()),
                msg_type="text",
                content=text,
                id=offset + i,
            )
        )
        for i, text in enumerate(texts)
    ]


def matcher_micros(rules: int) -> dict[str, float]:
    from wechat.replies import TextReply
    from wxnotify.engagement.matching import RuleSpec, build_matcher

    specs = [
        RuleSpec(i, "exact" if i % 2 else "contains", (f"问题{i:04d}", f"科室{i:04d}"), i, TextReply("x"))
        for i in range(rules)
    ]
    specs.append(RuleSpec(rules, "default", (), 10**6, TextReply("默认")))
    matcher = build_matcher(specs)
    cases = {
        "exact_hit": f"问题{rules - 1:04d}",
        "contains_hit_last_rule": f"请问科室{rules - 2:04d}在几楼",
        "miss_default_reply": "停车场在哪里",
    }
    out = {}
    for name, text in cases.items():
        rounds = 2000
        started = time.perf_counter()
        for _ in range(rounds):
            matcher.answer_text(text)
        out[name] = round((time.perf_counter() - started) / rounds * 1e6, 1)
    return out


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8125)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"rules": args.rules, "messages": args.messages, "gunicorn_workers": args.workers}
    with throwaway_database(postgres=args.postgres, prefix="rules") as var_dir:
        result["matcher_us_per_message"] = matcher_micros(args.rules)
        with_rules = make_account(1, args.rules)
        without = make_account(2, 0)
        log = Path(var_dir) / "web.log"
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
        command += ["--bind", f"127.0.0.1:{args.port}", "--workers", str(args.workers), "--log-level", "warning"]
        env = os.environ | {"WXNOTIFY_VAR_DIR": var_dir, "WXNOTIFY_LOG_LEVEL": "WARNING"}
        with log.open("wb") as out:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{args.port}"
        try:
            wait_until_up(f"{base}/login/", seconds=60, process=server)
            texts = questions(args.rules, args.messages)
            offset = 10**9
            for concurrency in args.concurrency:
                for name, account in (("no_rules", without), ("rules", with_rules)):
                    url = f"{base}/wechat/{account.appid}/callback"
                    offset += 10**7
                    asyncio.run(fire(pushes(account, url, texts[:200], offset), concurrency))  # warm-up
                    offset += 10**7
                    latencies, failures, elapsed = asyncio.run(fire(pushes(account, url, texts, offset), concurrency))
                    result[f"{name}_c{concurrency}"] = {
                        "messages_per_s": round(len(texts) / elapsed),
                        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
                        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
                        "max_ms": round(max(latencies) * 1000, 1),
                        "failures": failures,
                    }
                result[f"p99_ratio_rules_vs_none_c{concurrency}"] = round(
                    result[f"rules_c{concurrency}"]["p99_ms"] / max(result[f"no_rules_c{concurrency}"]["p99_ms"], 0.1),
                    2,
                )
        finally:
            server.terminate()
            server.wait(timeout=15)
        from wxnotify.engagement.models import ReplyHit

        result["answered_by_a_rule"] = ReplyHit.objects.filter(account=with_rules).count()
    result["database"] = "postgresql" if args.postgres else "sqlite"
    result["wechat_window_ms"] = 5000
    return result


if __name__ == "__main__":
    from benchmarks.summary import record

    record("keyword_replies", main())
