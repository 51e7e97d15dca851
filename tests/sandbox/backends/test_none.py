from __future__ import annotations

import sys
from pathlib import Path

from sandbox import SandboxSpec, get_backend


def test_none_runs_with_a_clean_env_and_warns(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPERATOR_SECRET_KEY", "hunter2")
    spec = SandboxSpec(agent_id="a1", workspace=tmp_path / "ws", token="w2s_t",
                       command=[sys.executable, "-c", "import os; print(sorted(os.environ))"])
    result = get_backend("none").run(spec, timeout=30)
    assert result.returncode == 0
    assert b"OPERATOR_SECRET_KEY" not in result.stdout and b"W2S_TOKEN" in result.stdout
    assert "UNSAFE" in capsys.readouterr().err


def test_a_line_without_end_comes_in_bounded_pieces(tmp_path: Path) -> None:
    """An agent printing megabytes without a newline: the host reads it in pieces of at most MAX_LINE_BYTES (a
    gigabyte line would otherwise be held whole in the launch's memory), all of it, in order."""
    from sandbox._backend import MAX_LINE_BYTES

    program = "import sys; sys.stdout.write('x' * (5 * 2**20) + '\\nend\\n')"
    spec = SandboxSpec(agent_id="a1", workspace=tmp_path / "ws", token="w2s_t", command=[sys.executable, "-c", program])
    handle = get_backend("none").start(spec)
    pieces = list(handle.lines())
    assert handle.wait(timeout=30) == 0
    assert max(len(p) for p in pieces) <= MAX_LINE_BYTES and len(pieces) >= 5
    assert b"".join(pieces) == b"x" * (5 * 2**20) + b"\nend\n"


def test_stderr_keeps_only_its_end(tmp_path: Path) -> None:
    """An agent writing megabytes to stderr: the host keeps the last STDERR_TAIL_BYTES (where the reason it died is),
    not the whole stream, both while the process runs and after its runtime dir is gone."""
    from sandbox._backend import STDERR_TAIL_BYTES

    program = "import sys; sys.stderr.write('e' * (3 * 2**20) + 'REASON')"
    spec = SandboxSpec(agent_id="a1", workspace=tmp_path / "ws", token="w2s_t", command=[sys.executable, "-c", program])
    handle = get_backend("none").start(spec)
    list(handle.lines())
    handle.wait(timeout=30)
    err = handle.stderr_text()
    assert len(err) == STDERR_TAIL_BYTES and err.endswith(b"REASON")
