"""The grader benchmark at a tiny size: direct calls, one HTTP client and nine concurrent ones, each counted."""

from __future__ import annotations

import re
from collections.abc import Callable


def test_tiny_grader_bench_reports_every_mode(run_bench: Callable[..., str]) -> None:
    out = run_bench("grader_bench.py", "--n", "5", "--per-client", "2")
    counts = dict(re.findall(r"^(direct library call|MCP over HTTP, 1 client|MCP over HTTP, 9 concurrent clients)"
                             r"[^\n]*?n=\s*(\d+)", out, re.MULTILINE))
    assert counts == {"direct library call": "5", "MCP over HTTP, 1 client": "5",
                      "MCP over HTTP, 9 concurrent clients": "18"}, out
    for median, p99 in re.findall(r"median\s+([\d.]+) ms\s+p99\s+([\d.]+) ms", out):
        assert 0 < float(median) <= float(p99), out
    added = re.search(r"added median latency of MCP/HTTP over direct: (-?[\d.]+) ms \(target <= 5 ms: (met|NOT met)\)"
                      r"; ratio HTTP/direct median ([\d.]+)x", out)
    assert added and float(added[3]) > 0 and (added[2] == "met") == (float(added[1]) <= 5), out
    p99 = re.search(r"p99 with 9 concurrent clients: ([\d.]+) ms \(target < 100 ms: (met|NOT met)\); throughput ratio "
                    r"direct/HTTP-9 ([\d.]+)x", out)
    assert p99 and float(p99[3]) > 0 and (p99[2] == "met") == (float(p99[1]) < 100), out
