"""A small closed-loop HTTP load generator (run as a separate process by bench_dashboard).

`python -m benchmarks.loadgen URL --users 50 --duration 20 [--think 0] [--cookie k=v]`
prints one JSON line: requests, errors, seconds, req_per_s, p50/p95/p99 latency in ms.
Each user is an asyncio task that sends a request, waits for the full answer, optionally
"thinks" (sleeps) and repeats; all users share one httpx.AsyncClient connection pool. With a
think time, each pause is drawn uniformly from 0.5x to 1.5x of it and the users start spread
over one think time (as locust's `between`): a fixed pause from a common start would keep all
users in lockstep, every request of a round arriving in the same millisecond, which no real
population of investors does.
"""

import argparse
import asyncio
import json
import random
import time

import httpx
import numpy as np


async def _user(
    client: httpx.AsyncClient,
    url: str,
    until: float,
    think: float,
    out: list,
    errors: list,
    rng: random.Random,
) -> None:
    if think:
        await asyncio.sleep(rng.uniform(0, think))
    while time.perf_counter() < until:
        start = time.perf_counter()
        try:
            response = await client.get(url)
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        elapsed = time.perf_counter() - start
        (out if ok else errors).append(elapsed)
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


async def run(
    url: str, users: int, duration: float, think: float, cookies: dict[str, str], warmup: float
) -> dict:
    rng = random.Random(20261125)
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(
        cookies=cookies, limits=limits, timeout=30, follow_redirects=False
    ) as client:
        if warmup:
            await asyncio.gather(
                *(
                    _user(client, url, time.perf_counter() + warmup, think, [], [], rng)
                    for _ in range(users)
                )
            )
        latencies: list[float] = []
        errors: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(
            *(
                _user(client, url, start + duration, think, latencies, errors, rng)
                for _ in range(users)
            )
        )
        seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": seconds,
        "req_per_s": len(latencies) / seconds,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--think", type=float, default=0.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--cookie", action="append", default=[])
    args = parser.parse_args()
    cookies = dict(c.split("=", 1) for c in args.cookie)
    print(
        json.dumps(
            asyncio.run(run(args.url, args.users, args.duration, args.think, cookies, args.warmup))
        )
    )


if __name__ == "__main__":
    main()
