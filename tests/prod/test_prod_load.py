"""Load: 50 visitors at once, 10 turns each, against one Rasa server (PostgreSQL tracker
store, Redis locks) and the action server. No errors, every reply the approved text for its
question, every turn stored with the right content ids, all within 90 seconds.

The figures (throughput, latency percentiles) are printed and written to
test-output/load-test.json."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from typing import List, Tuple

import aiohttp

from tests.conftest import ROOT
from tests.prod.phrases import CRISIS, EVERYTHING, MEDICAL, expected_texts, turns_of

CONVERSATIONS, TURNS, BUDGET_SECONDS = 50, 10, 90.0


def script(n: int) -> List[Tuple[str, List[str]]]:
    """Conversation ``n``: ten turns, different in each conversation; some hand off and decline,
    some are in crisis."""
    turns = [EVERYTHING[(n * 7 + k * 3) % len(EVERYTHING)] for k in range(TURNS)]
    if n % 5 == 0:
        turns[4:6] = [MEDICAL, ("no thanks", ["callback_declined"])]
    if n % 10 == 3:
        turns[7] = CRISIS
    return turns


def test_fifty_concurrent_conversations_of_ten_turns(prod):
    base = prod.url_of("rasa")
    run = uuid.uuid4().hex[:8]
    scripts = {f"load-{run}-{n:02d}": script(n) for n in range(CONVERSATIONS)}
    texts = {cid: t for cid, t in zip(
        sorted({c for s in scripts.values() for _, ids in s for c in ids}),
        expected_texts(sorted({c for s in scripts.values() for _, ids in s for c in ids})))}
    latencies: List[float] = []
    errors: List[str] = []

    async def visitor(session: aiohttp.ClientSession, sender: str, turns) -> None:
        for text, ids in turns:
            started = time.perf_counter()
            try:
                async with session.post(f"{base}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}) as r:
                    body = await r.json(content_type=None)
                    status = r.status
            except Exception as e:  # noqa: BLE001 - every failure is counted
                errors.append(f"{sender} {text!r}: {type(e).__name__} {e}")
                continue
            latencies.append(time.perf_counter() - started)
            got = [m.get("text") for m in body] if isinstance(body, list) else body
            if status != 200 or got != [texts[c] for c in ids]:
                errors.append(f"{sender} {text!r}: {status} {str(got)[:200]}")

    async def everyone() -> float:
        connector = aiohttp.TCPConnector(limit=CONVERSATIONS)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as s:
            started = time.perf_counter()
            await asyncio.gather(*(visitor(s, sender, turns) for sender, turns in scripts.items()))
            return time.perf_counter() - started

    elapsed = asyncio.run(everyone())
    total = CONVERSATIONS * TURNS
    ordered = sorted(latencies)
    figures = {
        "conversations": CONVERSATIONS, "turns_each": TURNS, "turns": total, "errors": len(errors),
        "seconds": round(elapsed, 2), "turns_per_second": round(total / elapsed, 1),
        "latency_ms": {"mean": round(1000 * statistics.mean(ordered), 1),
                       "p50": round(1000 * ordered[len(ordered) // 2], 1),
                       "p95": round(1000 * ordered[int(len(ordered) * 0.95) - 1], 1),
                       "max": round(1000 * ordered[-1], 1)} if ordered else {},
    }
    print("\nload:", json.dumps(figures))
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "load-test.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert not errors, errors[:10]
    assert len(latencies) == total
    assert elapsed < BUDGET_SECONDS, figures

    # what was stored: every turn, in order, with the content ids of its replies
    for sender, turns in scripts.items():
        stored = turns_of(prod.tracker(sender, "rasa"))
        assert [(t, ids) for t, _, ids in stored] == [(t, ids) for t, ids in turns], sender
