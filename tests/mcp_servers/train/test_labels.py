"""`file:` labels as an agent attacks them: a link is refused, and flipping the file with a link to another
file while the server checks it never gets the other file's labels into a job (read once, checked from the same
bytes, frozen into the job)."""

from __future__ import annotations

import json
import os
import threading

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcp_servers.core import read_session
from mcp_servers.jobs import JobRow
from tests.mcp_servers.compute_fixtures import FAST_SFT, call
from trainer.data import load_split

pytestmark = pytest.mark.bwrap


async def test_flipping_a_labels_file_with_a_link_never_trains_on_the_links_target(servers: dict,
                                                                                  compute_env) -> None:
    for compute in servers.values():
        compute.runner.stop()  # what was accepted is the point; nothing needs to run
    ids = load_split("sentiment", "train_unlabel").ids
    workspace = compute_env.settings.workspaces_dir / "alice"
    (workspace / "labels").mkdir(parents=True)
    other = compute_env.settings.workspaces_dir / "bob" / "labels.jsonl"
    other.parent.mkdir(parents=True)
    other.write_text("".join(json.dumps({"id": i, "p": 1.0}) + "\n" for i in ids))  # bob's: all ones
    mine = "".join(json.dumps({"id": i, "p": 0.0}) + "\n" for i in ids)  # alice's own: all zeros
    path, link, plain = workspace / "labels" / "mine.jsonl", workspace / "labels" / ".l", workspace / "labels" / ".p"
    path.write_text(mine)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            os.symlink(other, link)
            os.replace(link, path)
            plain.write_text(mine)
            os.replace(plain, path)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    accepted, refused = [], 0
    try:
        async with Client(servers["train"].app.mcp) as train:
            for attempt in range(200):
                try:
                    job = await call(train, "start_training", dataset="sentiment", config=FAST_SFT,
                                     labels_source="file:labels/mine.jsonl")
                except ToolError as exc:
                    assert "symbolic link" in str(exc) or "labels 0 rows" in str(exc) or "does not exist" in str(exc)
                    refused += 1
                else:
                    accepted.append(job["id"])
                    await call(train, "cancel_job", job_id=job["id"])  # stay under the queue quota
                if attempt >= 30 and accepted and refused:
                    break
    finally:
        stop.set()
        flipper.join()
    assert accepted and refused
    with read_session(servers["train"].queue.engine) as session:
        for job_id in accepted:
            assert set(json.loads(session.get(JobRow, job_id).spec)["args"]["labels"]) == {0.0}
