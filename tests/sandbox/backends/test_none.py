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
