"""A job runs under its agent's sandbox policy: it reads what the agent may read and writes only its own workspace.

Written as the attacks: a job body that opens the label store, a `runs` folder planted as a link into another
agent's workspace, a job folder planted as a link. Real bubblewrap sandboxes, a real label store on the same disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mcp_servers.grader.datasets._build import build_testbed
from mcp_servers.jobs import JobQueue, JobRunner, JobSandbox, JobState
from trainer import paths

pytestmark = pytest.mark.bwrap
PROBE = "trainer.jobs.builtin:probe_job"
SLEEP = "trainer.jobs.builtin:sleep_job"


def _run(queue: JobQueue, box: JobSandbox, agent: str, target: str, spec: dict, job_id: str | None = None):
    with JobRunner(queue, box, slots=1, poll_s=0.05):
        job = queue.submit(agent, target.rsplit(":", 1)[1], target, spec, job_id=job_id).id
        deadline = time.monotonic() + 60
        while not queue.view(job).state.finished:
            assert time.monotonic() < deadline, f"{job} still {queue.view(job).state}"
            time.sleep(0.05)
    return queue.view(job, log_lines=20)


def test_a_job_cannot_read_the_label_store_or_other_workspaces(queue: JobQueue, box: JobSandbox,
                                                               workspaces: Path) -> None:
    build_testbed("sentiment", "tiny", seed=0)
    for folder, _, _ in os.walk(paths().data_dir):
        os.chmod(folder, 0o755)  # see compute_fixtures._public_readable
    where = paths()
    labels = where.label_store_dir / "sentiment" / "test.jsonl"
    assert labels.is_file()  # the hidden labels are on this host
    (workspaces / "bob").mkdir()
    (workspaces / "bob" / ".mcp.json").write_text('{"token": "w2s_bob_secret"}')
    private = [str(labels), str(where.label_store_dir), str(where.state_dir), str(where.raw_dir),
               str(workspaces / "bob" / ".mcp.json"), "/w2s/workspace/../bob/.mcp.json"]
    # The operator's home shows only as the skeleton of the Python install's bind (e.g. /root/.pyenv), no file.
    private += [str(p) for p in (Path.home() / ".bashrc", Path.home() / ".profile") if p.is_file()]
    view = _run(queue, box, "alice", PROBE, {"read": [*private, "/w2s/data/sentiment/test.jsonl"],
                                             "write": ["/w2s/data", "/w2s/src/trainer", "/w2s/workspace"]})
    assert view.state == JobState.SUCCEEDED, (view.error, view.log_tail)
    read, write = view.result["read"], view.result["write"]
    assert all(read[p] != "read" for p in private), [p for p in private if read[p] == "read"]  # refused by the filesystem: missing or denied
    assert read["/w2s/data/sentiment/test.jsonl"] == "read"  # public data is there
    assert write["/w2s/data"].startswith("denied") and write["/w2s/src/trainer"].startswith("denied")
    assert write["/w2s/workspace"] == "written" and (workspaces / "alice" / f"probe-{view.id}.txt").is_file()


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_a_runs_link_into_another_workspace_makes_the_job_write_nothing_there(queue: JobQueue, box: JobSandbox,
                                                                           workspaces: Path, link: str) -> None:
    bob_runs = workspaces / "bob" / "runs"
    bob_runs.mkdir(parents=True)
    (workspaces / "alice").mkdir()
    os.symlink(bob_runs if link == "absolute" else "../bob/runs", workspaces / "alice" / "runs")
    view = _run(queue, box, "alice", SLEEP, {"seconds": 0})
    assert view.state == JobState.FAILED and "could not start" in (view.error or "")
    assert list(bob_runs.iterdir()) == []


def test_a_job_folder_planted_as_a_link_is_not_written_through(queue: JobQueue, box: JobSandbox,
                                                              workspaces: Path) -> None:
    target = workspaces / "bob" / "runs" / "x"
    target.mkdir(parents=True)
    (workspaces / "alice" / "runs").mkdir(parents=True)
    os.symlink(target, workspaces / "alice" / "runs" / "train-planted01")
    view = _run(queue, box, "alice", SLEEP, {"seconds": 0}, job_id="train-planted01")
    assert view.state == JobState.FAILED and list(target.iterdir()) == []


def test_even_the_unsafe_none_backend_refuses_a_planted_runs_link(queue: JobQueue, box: JobSandbox,
                                                                 workspaces: Path) -> None:
    unsafe = JobSandbox(workspaces_dir=box.workspaces_dir, data_dir=box.data_dir, backend_name="none")
    bob_runs = workspaces / "bob" / "runs"
    bob_runs.mkdir(parents=True)
    (workspaces / "alice").mkdir()
    os.symlink(bob_runs, workspaces / "alice" / "runs")
    view = _run(queue, unsafe, "alice", SLEEP, {"seconds": 0})
    assert view.state == JobState.FAILED and list(bob_runs.iterdir()) == []
    # The development path itself works: the same job in a clean workspace succeeds on the host.
    view = _run(queue, unsafe, "carol", SLEEP, {"seconds": 0.1, "steps": 2})
    assert view.state == JobState.SUCCEEDED and (workspaces / "carol" / view.run_dir / "result.txt").is_file()
