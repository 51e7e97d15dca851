"""Every server as the official TypeScript MCP SDK (and the MCP Inspector, built on it) sees it: tests/node/sweep.mjs
over streamable HTTP with a bearer token lists the tools (zod checks each definition, ajv compiles each
outputSchema), calls every read-only tool and the writes with valid arguments (the SDK validates structuredContent
against the tool's outputSchema and throws on a mismatch), one call with a bad argument (a tool result with isError
and a readable text, not a protocol error), and connects with a token lacking the server's scope (403 with a message,
no OAuth flow)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from mcp_servers.core import ServerApp, TokenStore
from mcp_servers.jobs import JobState
from tests.mcp_servers.compute_fixtures import compute_env, servers  # noqa: F401  (fixtures of the compute servers)
from tests.mcp_servers.node_helpers import node_sdk
from tests.mcp_servers.server_helpers import running

Call = dict[str, Any]


@pytest.fixture(scope="module")
def sweep_script() -> Path:
    return node_sdk() / "sweep.mjs"


async def sweep(script: Path, app: ServerApp[Any], token: str, wrong_scope_token: str,
                calls: list[Call]) -> dict[str, Any]:
    """Run sweep.mjs against `app` served on loopback; its JSON answer."""
    plan = {"token": token, "wrong_scope_token": wrong_scope_token, "calls": calls}
    async with running(app.http_app()) as url:
        node = await asyncio.create_subprocess_exec(
            shutil.which("node") or "node", str(script), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(node.communicate(json.dumps(plan | {"url": f"{url}/mcp"}).encode()), 120)
    assert node.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().splitlines()[-1])


def call(name: str, **arguments: Any) -> Call:
    return {"name": name, "arguments": arguments}


def check(answer: dict[str, Any], server: str, bad: str) -> dict[str, dict[str, Any]]:
    """The checks every server passes; the calls that succeeded by name (the last of each), for server checks.

    `bad` names the argument of the one call planned to fail."""
    assert answer["list_error"] is None, answer["list_error"]
    tools = {t["name"]: t for t in answer["tools"]}
    assert all(t["output_schema"] for t in tools.values()), tools
    *calls, refused = answer["calls"]
    failed = [c for c in calls if c["threw"] is not None or c["is_error"]]
    assert not failed, json.dumps(failed, indent=1)[:4000]
    called = {c["name"] for c in calls}
    read_only = {name for name, t in tools.items() if t["read_only"]}
    assert read_only <= called, f"read-only tools the sweep did not call: {read_only - called}"
    assert called - read_only, "no write tool called"
    # A bad argument: a tool result with isError naming the argument, which the SDK hands back without throwing.
    assert refused["threw"] is None and refused["is_error"] is True, refused
    assert bad in refused["text"] and len(refused["text"]) < 2000, refused["text"]
    # No server declares resources or prompts; one that does has them listed by the SDK without error.
    caps = answer["capabilities"]
    assert ("resources" in answer) == ("resources" in caps) and ("prompts" in answer) == ("prompts" in caps)
    # A live token without this server's scope: 403 whose text says which scope and how to get it, as the SDK's
    # error too; with an auth provider (as the Inspector's) no OAuth step runs.
    wrong = answer["wrong_scope"]
    assert wrong["status"] == 403, wrong
    description = json.loads(wrong["body"])["error_description"]
    assert f"lacks the {server} scope" in description, wrong
    assert f"lacks the {server} scope" in wrong["client_error"], wrong
    assert not wrong["oauth_steps"], json.dumps(wrong, indent=1)
    assert f"lacks the {server} scope" in (wrong["oauth_error"] or ""), wrong
    return {c["name"]: c for c in calls}


async def test_grader(sweep_script: Path, w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.grader import build_server
    from tests.mcp_servers.grader.conftest import build_env

    monkeypatch.setenv("W2S_LITESTREAM", "false")
    env = build_env(w2s_home, test_groups=20)
    preds = [0.9 if t else 0.2 for t in env.truth["toy"]]
    calls = [call("list_datasets"),
             call("submit_predictions", dataset="toy", predictions=preds, idea="vanilla", seed=1),
             call("submit_predictions", dataset="pref", predictions=[0.5] * len(env.truth["pref"])),
             call("get_submission", submission_id="{{1.submission_id}}"),
             call("get_submission", submission_id="{{2.submission_id}}"),
             call("leaderboard", dataset="toy"),
             call("final_submissions", dataset="toy"),
             call("select_final_submissions", dataset="toy", submission_ids=["{{1.submission_id}}"]),
             call("final_submissions", dataset="toy"),
             call("leaderboard", dataset="toy"),
             call("get_submission", submission_id="seven")]
    done = check(await sweep(sweep_script, build_server(), env.tokens["bob"], env.tokens["carol"], calls),
                 "grader", "submission_id")
    assert len(done["final_submissions"]["structured"]["submission_ids"]) == 1


async def test_findings(sweep_script: Path, w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.findings import build_server
    from tests.mcp_servers.findings.findings_helpers import build_fenv

    monkeypatch.setenv("W2S_LITESTREAM", "false")
    fenv = build_fenv(w2s_home)
    cited = fenv.submit("alice", 0.8)
    async with Client(build_server(local_token=fenv.tokens["bob"]).mcp) as bob:  # a finding alice may vote on
        bobs = (await bob.call_tool("post_finding", {"title": "b", "summary": "s", "body": "b", "idea": "x",
                                                     "finding_type": "insight", "method_family": "other"}))
    calls = [call("search_findings"),
             call("sync_findings"),
             call("post_finding", title="t", summary="s", body="b", finding_type="result", idea="vanilla",
                  method_family="ensemble", submission_ids=[cited], config={"lr": 0.001, "layers": [1, 2]},
                  tags=["x"]),
             call("post_finding", title="u", summary="s", body="b", finding_type="hypothesis", idea="other",
                  method_family="other"),
             call("comment_finding", finding_id="{{2.finding_id}}", body="nice"),
             call("vote_finding", finding_id=bobs.structured_content["finding_id"], value=1),
             call("read_finding", finding_id=bobs.structured_content["finding_id"]),
             call("read_finding", finding_id="{{2.finding_id}}"),
             call("read_finding", finding_id="{{3.finding_id}}"),
             call("search_findings", query="t", min_pgr=0.0),
             call("search_findings", agent="alice", family="ensemble", finding_type="result", limit=1),
             call("sync_findings", cursor=0, limit=1),
             call("read_finding", finding_id=0)]
    done = check(await sweep(sweep_script, build_server(), fenv.tokens["alice"], fenv.tokens["grader-only"], calls),
                 "findings", "finding_id")
    assert done["read_finding"]["structured"]["title"] == "u"


async def test_snapshot(sweep_script: Path, w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.snapshot import SnapshotSettings, build_server

    monkeypatch.setenv("W2S_LITESTREAM", "false")
    settings = SnapshotSettings()
    tokens = TokenStore(settings.tokens_db)
    workspace = settings.workspaces_dir / "alice"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "train.py").write_text("print('hi')\n")
    (workspace / "big.bin").write_bytes(b"x" * (settings.max_file_bytes + 1))  # skipped: a SkippedPath in the answer
    calls = [call("list_snapshots"),
             call("upload_snapshot", message="first", idea="vanilla"),
             call("get_snapshot", snapshot_id="{{1.snapshot_id}}"),
             call("list_snapshots", agent="alice", idea="vanilla", limit=1),
             call("download_snapshot", snapshot_id="{{1.snapshot_id}}", inline=True),
             call("download_snapshot", snapshot_id="{{1.snapshot_id}}", into="restored"),
             call("get_snapshot", snapshot_id=-1)]
    check(await sweep(sweep_script, build_server(settings), tokens.mint("alice", ["snapshot"]),
                      tokens.mint("carol", ["findings"]), calls), "snapshot", "snapshot_id")
    assert (workspace / "restored" / "src" / "train.py").read_text() == "print('hi')\n"


def _finished(compute: ServerApp[Any], kind: str, function: str, result: dict[str, Any]) -> tuple[str, str]:
    """A job of alice's claimed and finished with `result` (no sandbox run: the views, not the training, are swept);
    its id and run folder. "{run_dir}" in a result's text is the job's run folder."""
    queue = compute.service.queue
    job = queue.submit("alice", kind, function, {})
    assert queue.claim_next(1, os.getpid()) is not None
    queue.record_progress(job.id, 0.5, "half way", {"loss": 0.5, "step": 1})
    filled = {k: v.format(run_dir=job.run_dir) if isinstance(v, str) else v for k, v in result.items()}
    queue.finish(job.id, JobState.SUCCEEDED, result=filled)
    return job.id, job.run_dir


@pytest.mark.bwrap
async def test_train(sweep_script: Path, servers: dict, compute_env) -> None:  # noqa: F811
    train = servers["train"]
    for compute in servers.values():  # both dispatch from one jobs db: stopped, jobs stay queued for the sweep
        compute.service.runner.stop()
    done_id, _ = _finished(train, "train", "trainer.jobs.train:run_train_job", {"accuracy": 0.75, "steps": 2})
    calls = [call("describe_training"),
             call("list_jobs"),
             call("start_training", dataset="sentiment", recipe="weak", idempotency_key="k1"),
             call("job_status", job_id="{{2.id}}", log_lines=5),
             call("wait_job", job_id="{{2.id}}", max_wait_s=1),
             call("job_status", job_id=done_id),
             call("wait_job", job_id=done_id),
             call("list_jobs", kind="train", state="queued", limit=5),
             call("cancel_job", job_id="{{2.id}}"),
             call("cancel_job", job_id="{{2.id}}"),
             call("list_jobs"),
             call("job_status", job_id="x", log_lines=-3)]
    done = check(await sweep(sweep_script, train, compute_env.tokens["alice"], compute_env.tokens["grader-only"],
                             calls), "train", "log_lines")
    assert done["cancel_job"]["structured"]["state"] == "cancelled", done["cancel_job"]


@pytest.mark.bwrap
async def test_predict(sweep_script: Path, servers: dict, compute_env) -> None:  # noqa: F811
    from trainer.data import load_split

    predict = servers["predict"]
    for compute in servers.values():
        compute.service.runner.stop()
    done_id, job_dir = _finished(predict, "predict", "trainer.jobs.predict:run_predict_job",
                                 {"predictions_file": "{run_dir}/predictions.json"})
    test = load_split("sentiment", "test")
    run_dir = compute_env.settings.workspaces_dir / "alice" / job_dir
    run_dir.mkdir(parents=True)
    (run_dir / "predictions.json").write_text(json.dumps({
        "dataset": "sentiment", "split": "test", "ids": test.ids, "predictions": [0.25] * len(test)}))
    checkpoint = compute_env.settings.workspaces_dir / "alice" / "ckpt"
    checkpoint.mkdir(parents=True)
    (checkpoint / "classifier.json").write_text("{}")
    calls = [call("list_jobs"),
             call("read_predictions", job_id=done_id),
             call("read_predictions", job_id=done_id, include_ids=True),
             call("predict", dataset="sentiment", split="test", checkpoint="ckpt", idempotency_key="p-1"),
             call("job_status", job_id="{{3.id}}"),
             call("wait_job", job_id="{{3.id}}", max_wait_s=1),
             call("list_jobs", kind="predict"),
             call("cancel_job", job_id="{{3.id}}"),
             call("predict", dataset="sentiment", batch_size="many")]
    check(await sweep(sweep_script, predict, compute_env.tokens["alice"], compute_env.tokens["grader-only"], calls),
          "predict", "batch_size")
