"""The host reads a job's stdout as untrusted data: junk, endless lines, NaN metrics and oversized results never
reach the database as such."""

from __future__ import annotations

import json
from pathlib import Path

from mcp_servers.jobs._events import Cancelled, Failed, Progress, Result, bounded_lines, parse_event, readable_log
from sandbox import SandboxSpec, get_backend
from trainer.jobs._protocol import MAX_LINE_BYTES


def test_events_are_validated_and_bounded() -> None:
    progress = parse_event(json.dumps({"event": "progress", "fraction": 0.5, "message": "m" * 9000,
                                       "metrics": {"loss": 0.5, "nan": float("nan"), "text": "x", "flag": True,
                                                   **{f"k{i}": i for i in range(200)}}}).encode())
    assert isinstance(progress, Progress) and len(progress.message) == 500
    assert progress.metrics["loss"] == 0.5 and "nan" not in progress.metrics and "text" not in progress.metrics
    assert "flag" not in progress.metrics and len(progress.metrics) <= 64
    assert isinstance(parse_event(b'{"event": "result", "result": {"rows": 3}}'), Result)
    assert isinstance(parse_event(b'{"event": "cancelled"}'), Cancelled)
    huge = parse_event(json.dumps({"event": "result", "result": {"x": "y" * 300_000}}).encode())
    assert isinstance(huge, Failed) and "over" in huge.error
    for junk in (b"not json", b"[1, 2]", b'{"event": "progress", "fraction": 7}', b'{"event": "rm -rf"}',
                 b'{"event": "result", "result": [1]}', b"{" * 100_000, b"x" * (MAX_LINE_BYTES + 1)):
        assert parse_event(junk) is None


def test_an_endless_line_is_skipped_and_the_stream_goes_on(tmp_path: Path) -> None:
    code = ("import sys; w = sys.stdout.write; w('x' * (3 << 20) + '\\n'); "
            "w('{\"event\": \"result\", \"result\": {\"ok\": 1}}\\n'); w('partial without newline')")
    spec = SandboxSpec(agent_id="a1", workspace=tmp_path / "ws", command=["python", "-c", code])
    handle = get_backend("none").start(spec)
    lines = list(bounded_lines(handle))
    handle.wait()
    assert [parse_event(line) for line in lines] == [Result(event="result", result={"ok": 1})]



def test_an_endless_line_from_a_remote_backend_is_skipped_too(tmp_path: Path) -> None:
    """A backend without a local pipe (k8s, through a stand-in kubectl) hands a long line over in pieces: none of
    them is taken for a line of its own (a piece could otherwise end in a well-formed event)."""
    import sys

    from sandbox.backends.k8s import K8sBackend, PodHandle
    from sandbox.k8s_cluster import K8sSettings

    forged = '{"event": "result", "result": {"forged": 1}}'
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(f"""#!{sys.executable}
import sys
w = sys.stdout.write
w("2026-11-29T13:00:00Z " + "x" * ((3 << 20) - 21) + {forged!r} + "\\n")
w('2026-11-29T13:00:01Z {{"event": "result", "result": {{"ok": 1}}}}\\n')
""")
    kubectl.chmod(0o755)
    spec = SandboxSpec(agent_id="a1", workspace=tmp_path / "ws", command=["true"])
    handle = PodHandle(K8sBackend(K8sSettings(kubectl=str(kubectl))), spec)
    handle._running.set()
    handle._ended.set()  # one log stream, then done
    lines = list(bounded_lines(handle))
    assert [parse_event(line) for line in lines] == [Result(event="result", result={"ok": 1})]


TQDM_LOG = ("loading model\n"
            "\x1b[32mINFO\x1b[0m tokenizer ready\r\n"
            "Map:   0%|          | 0/40 [00:00<?, ? examples/s]\rMap:  50%|#####     | 20/40 [00:01<00:01]"
            "\rMap: 100%|##########| 40/40 [00:02<00:00, 19.9 examples/s]\n"
            + "".join(f"\r{i:3d}%|{'#' * (i // 10):10s}| {i}/100" for i in range(101)) + "\n"
            "step 1/3\rstep 2/3\rstep 3/3\n"
            "\x1b]0;window title\x07\x1b[1;31mTraceback\x1b[0m (most recent call last):\n"
            "\tboom\x07\n\n")


def test_log_tails_leave_out_progress_bars_and_escape_codes() -> None:
    assert readable_log(TQDM_LOG, 20) == ("loading model\nINFO tokenizer ready\nstep 3/3\n"
                                          "Traceback (most recent call last):\n\tboom")
    assert readable_log(TQDM_LOG, 2) == "Traceback (most recent call last):\n\tboom"
    assert readable_log(TQDM_LOG, 0) == ""
    assert readable_log("50% of the rows kept | 3 dropped\n", 5) == "50% of the rows kept | 3 dropped"
