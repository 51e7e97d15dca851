"""Grader benchmark: submissions/s on a 2,000-row test set, direct library call vs MCP over HTTP, and latency
percentiles with 9 concurrent clients. Targets: <= 5 ms added median over HTTP, p99 < 100 ms with 9 clients.

    python benchmarks/grader_bench.py [--n 200] [--per-client 40]

Everything runs in a temporary W2S_HOME on loopback; the server is a separate process
(`python -m mcp_servers.grader --transport http`), as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ROWS = 2000


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _setup(home: Path) -> dict[str, str]:
    # throughput, not integrity: the default budget and rate limits would refuse most of these submissions
    os.environ.update(W2S_HOME=str(home), W2S_LITESTREAM="false", W2S_GRADER_MAX_SUBMISSIONS="0",
                      W2S_GRADER_RATE_LIMIT_PER_MINUTE="0", W2S_GRADER_RATE_LIMIT_PER_HOUR="0")
    from _grader_data import prepare_pairs

    from mcp_servers.core import TokenStore
    from mcp_servers.grader._service import GraderSettings

    prepare_pairs(home, ROWS // 2, ood_every=2)
    settings = GraderSettings()
    tokens = TokenStore(settings.tokens_db)
    return {f"agent-{k}": tokens.mint(f"agent-{k}", ["grader"]) for k in range(10)}


def _predictions(rng: random.Random) -> list[float]:
    return [round(rng.random(), 4) for _ in range(ROWS)]


def bench_direct(n: int, token: str) -> list[float]:
    from mcp_servers.core import TokenStore, create_sqlite_engine
    from mcp_servers.grader._service import Grader, GraderSettings

    settings = GraderSettings()
    grader = Grader(settings, create_sqlite_engine(settings.db_path("grader")))
    who = TokenStore(settings.tokens_db).verify(token)
    assert who is not None
    rng, times = random.Random(1), []
    for _ in range(n):
        preds = _predictions(rng)
        start = time.perf_counter()
        grader.submit(who, "bench", preds)
        times.append(time.perf_counter() - start)
    return times


async def _client_run(url: str, token: str, n: int, seed: int) -> list[float]:
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    rng, times = random.Random(seed), []
    transport = StreamableHttpTransport(f"{url}/mcp", headers={"Authorization": f"Bearer {token}"})
    async with Client(transport) as client:
        for _ in range(n):
            preds = _predictions(rng)
            start = time.perf_counter()
            await client.call_tool("submit_predictions", {"dataset": "bench", "predictions": preds})
            times.append(time.perf_counter() - start)
    return times


def _start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "W2S_HOME": str(home), "W2S_LITESTREAM": "false", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "mcp_servers.grader", "--transport", "http", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _line(name: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (f"{name:<34} n={len(ms):4d}  median {statistics.median(ms):7.2f} ms  p99 {_percentile(ms, 0.99):7.2f} ms"
            f"  {len(ms) / sum(times):7.1f} submissions/s (sequential)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="sequential submissions per mode")
    parser.add_argument("--per-client", type=int, default=40, help="submissions per concurrent client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        home = Path(tmp)
        tokens = _setup(home)
        direct = bench_direct(args.n, tokens["agent-9"])
        proc, url = _start_server(home)
        try:
            asyncio.run(_client_run(url, tokens["agent-8"], 10, 99))  # warm-up
            http = asyncio.run(_client_run(url, tokens["agent-0"], args.n, 2))

            async def concurrent() -> tuple[list[list[float]], float]:
                start = time.perf_counter()
                runs = await asyncio.gather(*(_client_run(url, tokens[f"agent-{k}"], args.per_client, 10 + k)
                                              for k in range(9)))
                return list(runs), time.perf_counter() - start

            runs, wall = asyncio.run(concurrent())
        finally:
            proc.terminate()
            proc.wait(10)
    together = [t for run in runs for t in run]
    added = (statistics.median(http) - statistics.median(direct)) * 1000
    print(f"grader benchmark: {ROWS}-row test set, probabilities, {os.cpu_count()} CPUs")
    print(_line("direct library call (Grader.submit)", direct))
    print(_line("MCP over HTTP, 1 client", http))
    print(f"{'MCP over HTTP, 9 concurrent clients':<34} n={len(together):4d}  median "
          f"{statistics.median(together) * 1000:7.2f} ms  p99 {_percentile(together, 0.99) * 1000:7.2f} ms"
          f"  {len(together) / wall:7.1f} submissions/s (aggregate)")
    print(f"added median latency of MCP/HTTP over direct: {added:.2f} ms (target <= 5 ms: "
          f"{'met' if added <= 5 else 'NOT met'}); ratio HTTP/direct median "
          f"{statistics.median(http) / statistics.median(direct):.2f}x")
    p99 = _percentile(together, 0.99) * 1000
    print(f"p99 with 9 concurrent clients: {p99:.1f} ms (target < 100 ms: {'met' if p99 < 100 else 'NOT met'}); "
          f"throughput ratio direct/HTTP-9 {len(direct) / sum(direct) / (len(together) / wall):.2f}x")


if __name__ == "__main__":
    main()
