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
from tests.mcp_servers.compute_fixtures import FAST_SFT, call, wait_done
from trainer.data import load_split

pytestmark = pytest.mark.bwrap


async def test_flipping_a_labels_file_with_a_link_never_trains_on_the_links_target(servers: dict,
                                                                                  compute_env) -> None:
    for compute in servers.values():
        compute.service.runner.stop()  # what was accepted is the point; nothing needs to run
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
        async with Client(servers["train"].mcp) as train:
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
    with read_session(servers["train"].service.queue.engine) as session:
        for job_id in accepted:
            assert set(json.loads(session.get(JobRow, job_id).spec)["args"]["labels"]) == {0.0}


def _fake_artifact(folder, dataset: str, p: float) -> None:
    """An artifact's files as build_weak_artifact writes them (no training needed to test where they are read)."""
    folder.mkdir(parents=True)
    for split in ("train_unlabel", "test"):
        ids = load_split(dataset, split).ids
        (folder / f"{split}.jsonl").write_text("".join(json.dumps({"id": i, "p": p}) + "\n" for i in ids))
    (folder / "config.json").write_text(json.dumps({"dataset": dataset, "train": {}, "files": {}}))
    (folder / "info.json").write_text(json.dumps({"id": folder.name, "wall_s": 0.0, "sizes": {}}))


async def test_weak_artifacts_shared_first_then_the_agents_own_never_through_a_link(servers: dict,
                                                                                   compute_env) -> None:
    from trainer import paths
    from trainer.weak import WeakConfig, artifact_id, default_weak_train

    shared_id = artifact_id(WeakConfig("sentiment", default_weak_train().updated(max_steps=1)))
    _fake_artifact(paths().artifacts_dir / shared_id, "sentiment", 0.25)
    own = compute_env.settings.workspaces_dir / "alice" / "artifacts"
    _fake_artifact(own / "weak-0000000000aa", "sentiment", 0.75)
    _fake_artifact(compute_env.home / "elsewhere" / "weak-0000000000bb", "sentiment", 0.5)
    os.symlink(compute_env.home / "elsewhere" / "weak-0000000000bb", own / "weak-0000000000bb")
    async with Client(servers["train"].mcp) as train:
        # A weak job finds the shared artifact through its own artifacts/ (a link the job made): no training.
        weak = await call(train, "start_training", dataset="sentiment", recipe="weak", config={"max_steps": 1})
        weak = await wait_done(train, weak["id"])
        assert weak["state"] == "succeeded", (weak["error"], weak["log_tail"])
        assert weak["result"]["artifact_id"] == shared_id and weak["result"]["weak_wall_s"] == 0.0
        assert (own / shared_id).is_symlink()
        for compute in servers.values():
            compute.service.runner.stop()
        expected = {f"weak:{shared_id}": 0.25, "weak:weak-0000000000aa": 0.75}
        for source, p in expected.items():
            job = await call(train, "start_training", dataset="sentiment", config=FAST_SFT, labels_source=source)
            with read_session(servers["train"].service.queue.engine) as session:
                assert set(json.loads(session.get(JobRow, job["id"]).spec)["args"]["labels"]) == {p}
            await call(train, "cancel_job", job_id=job["id"])
        with pytest.raises(ToolError, match="symbolic link"):
            await call(train, "start_training", dataset="sentiment", config=FAST_SFT,
                       labels_source="weak:weak-0000000000bb")
