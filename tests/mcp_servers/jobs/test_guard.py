"""Compute never reads private data: in-process opens are refused, in the server and in its job workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mcp_servers.grader.datasets._build import build_testbed
from trainer import paths

REPO = Path(__file__).resolve().parents[3]

_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.jobs import JobQueue, JobRunner, JobState
    from mcp_servers.jobs._compute import private_paths
    from mcp_servers.jobs._guard import deny_paths
    from mcp_servers.jobs._settings import ComputeSettings
    from trainer import paths

    settings = ComputeSettings()
    deny = private_paths(settings)
    deny_paths(deny)
    where = paths()
    out = {}
    for name, target in [("label_store_file", where.label_store_dir / "sentiment" / "test.jsonl"),
                         ("labeled_copy", where.labeled_dir / "sentiment" / "test.jsonl")]:
        try:
            open(target).read()
            out[name] = "read"
        except PermissionError as exc:
            out[name] = "refused"
    try:
        os.listdir(where.label_store_dir)
        out["listdir"] = "listed"
    except PermissionError:
        out["listdir"] = "refused"
    out["public"] = len(open(where.data_dir / "sentiment" / "test.jsonl").read()) > 0
    db = Path(sys.argv[1])
    queue = JobQueue(create_sqlite_engine(db))
    with JobRunner(queue, db, slots=1, poll_s=0.05, preload=(), deny=deny):
        job = queue.submit("a", "peek", "peek:peek", {"path": str(where.label_store_dir / "sentiment" / "test.jsonl")},
                           Path(sys.argv[2]))
        while not queue.view(job.id).state.finished:
            time.sleep(0.05)
    out["job"] = queue.view(job.id).state
    out["job_error"] = queue.view(job.id).error
    print(json.dumps(out))
""")


def test_private_paths_are_refused_in_the_server_and_its_workers(w2s_home: Path, tmp_path: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    assert (paths().label_store_dir / "sentiment" / "test.jsonl").is_file()  # the labels are on this host
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "peek.py").write_text("def peek(spec, ctx):\n    return {'n': len(open(spec['path']).read())}\n")
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{tmp_path / 'mods'}")
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "jobs.db"), str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["label_store_file"] == out["labeled_copy"] == out["listdir"] == "refused"
    assert out["public"] is True
    assert out["job"] == "failed" and "may not read private data" in out["job_error"]
