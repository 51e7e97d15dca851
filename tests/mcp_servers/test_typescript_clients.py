"""Every server as the official TypeScript MCP SDK (and the MCP Inspector, built on it) sees it: tests/node/sweep.mjs
over streamable HTTP with a bearer token lists the tools (zod checks each definition, ajv compiles each
outputSchema), calls every read-only tool and the writes with valid arguments (the SDK validates structuredContent
against the tool's outputSchema and throws on a mismatch), one call with a bad argument (a tool result with isError
and a readable text, not a protocol error), and connects with a token lacking the server's scope (403 with a message,
no OAuth flow) and an unknown one (401 saying to ask the operator). The Python SDK runs the same sweep, each result
checked against its outputSchema with jsonschema (tests/mcp_servers/client_sweep.py). Each server over stdio too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from mcp_servers.core import ServerApp, ServerSettings, TokenStore
from mcp_servers.jobs import JobState
from tests.mcp_servers.client_sweep import Sweep, call, check, node_stdio_sweep, node_sweep, python_sweep
from tests.mcp_servers.compute_fixtures import compute_env, servers  # noqa: F401  (fixtures of the compute servers)
from tests.mcp_servers.node_helpers import node_sdk
from tests.mcp_servers.server_helpers import REPO


@pytest.fixture(params=["typescript", "python"])
def sweep(request: pytest.FixtureRequest) -> Sweep:
    """The sweep by the TypeScript SDK (skipped without Node), then by the Python SDK with jsonschema."""
    return node_sweep(node_sdk() / "sweep.mjs") if request.param == "typescript" else python_sweep


async def test_a_result_off_its_output_schema_is_caught(sweep: Sweep, w2s_home: Path) -> None:
    """The sweep's point: a tool whose structuredContent breaks its declared outputSchema (an integer sent as 1.5, an
    optional field as null where the schema has no null) fails the call, in either client."""
    app = ServerApp("grader")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "note": {"type": "string"}},
              "required": ["n"]}

    @app.mcp.tool(output_schema=schema, annotations={"readOnlyHint": True})
    def off_schema() -> dict[str, Any]:
        return {"n": 1.5, "note": None}

    @app.mcp.tool(output_schema=schema)
    def on_schema(n: int) -> dict[str, Any]:
        return {"n": n}

    tokens = TokenStore(app.settings.tokens_db)
    answer = await sweep(app, tokens.mint("alice", ["grader"]), tokens.mint("bob", ["findings"]),
                         [call("on_schema", n=2), call("off_schema"), call("on_schema", n="two")])
    good, bad, refused = answer["calls"]
    assert good["threw"] is None and good["structured"] == {"n": 2}, good
    assert bad["threw"] is not None and "n" in bad["threw"] and "note" in bad["threw"], bad
    assert refused["is_error"] and "n" in refused["text"], refused


async def test_grader(sweep: Sweep, w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`toy` (calibrated, ID and OOD parts) closed with private scores published beforehand; `pref` (no calibration:
    the PGRs and references are null) open for the sweep's writes."""
    from mcp_servers.core import create_sqlite_engine
    from mcp_servers.grader import build_server
    from mcp_servers.grader._board import publish
    from mcp_servers.grader._finals import select_final
    from mcp_servers.grader._service import Grader, GraderSettings
    from tests.mcp_servers.grader.conftest import build_env

    monkeypatch.setenv("W2S_LITESTREAM", "false")
    env = build_env(w2s_home, test_groups=20)
    grader = Grader(GraderSettings(), create_sqlite_engine(env.settings.db_path("grader")))
    alice, bob = (TokenStore(env.settings.tokens_db).verify(env.tokens[a]) for a in ("alice", "bob"))
    truth = env.truth["toy"]
    first = grader.submit(alice, "toy", [float(t) for t in truth], idea="a", seed=0).submission_id
    grader.submit(alice, "toy", [0.5] * len(truth), note="flat")
    select_final(grader, alice, "toy", [first])
    bobs = grader.submit(bob, "toy", [0.9 if t else 0.2 for t in truth], idea="vanilla", seed=1).submission_id
    publish(grader, "toy", w2s_home / "published")
    calls = [call("list_datasets"),
             call("get_submission", submission_id=bobs),
             call("leaderboard", dataset="toy"),
             call("final_submissions", dataset="toy"),
             call("submit_predictions", dataset="pref", predictions=[0.5] * len(env.truth["pref"]), note="n",
                  idempotency_key="k"),
             call("submit_predictions", dataset="pref", predictions=[1.0] * len(env.truth["pref"])),
             call("submit_predictions", dataset="pref", predictions=[0.5] * len(env.truth["pref"]), note="n",
                  idempotency_key="k"),  # a replay: the first answer again
             call("get_submission", submission_id="{{5.submission_id}}"),
             call("final_submissions", dataset="pref"),
             call("select_final_submissions", dataset="pref", submission_ids=["{{4.submission_id}}"]),
             call("leaderboard", dataset="pref"),
             call("final_submissions", dataset="pref"),
             call("get_submission", submission_id="seven")]
    answer = await sweep(build_server(), env.tokens["bob"], env.tokens["carol"], calls)
    done = check(answer, "grader", "submission_id")
    board = answer["calls"][2]["structured"]
    assert board["closed"] and {e["private_accuracy"] is None for e in board["entries"]} == {True, False}, board
    assert done["final_submissions"]["structured"]["submission_ids"] == [done["select_final_submissions"]
                                                                         ["structured"]["submission_ids"][0]]
    pref = done["leaderboard"]  # the last leaderboard read: pref's, uncalibrated
    assert pref["arguments"]["dataset"] == "pref" and pref["structured"]["entries"][0]["pgr"] is None, pref
    first, replay = answer["calls"][4]["structured"], answer["calls"][6]["structured"]
    assert replay["replayed"] and replay["submission_id"] == first["submission_id"], replay


async def test_findings(sweep: Sweep, w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
             call("post_finding", title="u", summary="s", body="b", finding_type="hypothesis", idea="other",
                  method_family="other", idempotency_key="k"),
             call("post_finding", title="u", summary="s", body="b", finding_type="hypothesis", idea="other",
                  method_family="other", idempotency_key="k"),
             call("comment_finding", finding_id="{{2.finding_id}}", body="nice"),
             call("vote_finding", finding_id=bobs.structured_content["finding_id"], value=1),
             call("read_finding", finding_id=bobs.structured_content["finding_id"]),
             call("read_finding", finding_id="{{2.finding_id}}"),
             call("read_finding", finding_id="{{3.finding_id}}"),
             call("search_findings", query="t", min_pgr=0.0),
             call("search_findings", since="2020-01-01T00:00:00Z", min_pgr=0.1),
             call("search_findings", since="2020-01-01"),
             call("search_findings", agent="alice", family="ensemble", finding_type="result", limit=1),
             call("sync_findings", cursor=0, limit=1),
             call("read_finding", finding_id=0)]
    done = check(await sweep(build_server(), fenv.tokens["alice"], fenv.tokens["grader-only"], calls),
                 "findings", "finding_id")
    assert done["read_finding"]["structured"]["title"] == "u"


async def test_snapshot(sweep: Sweep, w2s_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_servers.findings import build_server as build_findings
    from mcp_servers.snapshot import SnapshotSettings, build_server
    from tests.mcp_servers.snapshot.snapshot_helpers import member, tar_b64

    monkeypatch.setenv("W2S_LITESTREAM", "false")
    settings = SnapshotSettings()
    tokens = TokenStore(settings.tokens_db)
    workspace = settings.workspaces_dir / "alice"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "train.py").write_text("print('hi')\n")
    (workspace / "big.bin").write_bytes(b"x" * (settings.max_file_bytes + 1))  # skipped: a SkippedPath in the answer
    alice = tokens.mint("alice", ["snapshot", "findings"])
    async with Client(build_findings(local_token=alice).mcp) as findings:  # a finding for the snapshot to back
        posted = await findings.call_tool("post_finding", {"title": "t", "summary": "s", "body": "b", "idea": "x",
                                                           "finding_type": "insight", "method_family": "other"})
    finding = posted.structured_content["finding_id"]
    calls = [call("list_snapshots"),
             call("upload_snapshot", message="first", idea="vanilla"),
             call("upload_snapshot", message="inline", finding_id=finding, idempotency_key="k",
                  archive_b64=tar_b64([(member("x.py"), b"x\n"), (member("run.sh", mode=0o755), b"echo\n")])),
             call("upload_snapshot", message="inline", finding_id=finding, idempotency_key="k",
                  archive_b64=tar_b64([(member("x.py"), b"x\n"), (member("run.sh", mode=0o755), b"echo\n")])),
             call("get_snapshot", snapshot_id="{{2.snapshot_id}}"),
             call("list_snapshots", finding_id=finding),
             call("get_snapshot", snapshot_id="{{1.snapshot_id}}"),
             call("list_snapshots", agent="alice", idea="vanilla", limit=1),
             call("download_snapshot", snapshot_id="{{1.snapshot_id}}", inline=True),
             call("download_snapshot", snapshot_id="{{1.snapshot_id}}", into="restored"),
             call("get_snapshot", snapshot_id=-1)]
    check(await sweep(build_server(settings), alice,
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
async def test_train(sweep: Sweep, servers: dict, compute_env) -> None:  # noqa: F811
    train = servers["train"]
    for compute in servers.values():  # both dispatch from one jobs db: stopped, jobs stay queued for the sweep
        compute.service.runner.stop()
    done_id, run_dir = _finished(train, "train", "trainer.jobs.train:run_weak_job", {"accuracy": 0.75, "steps": 2})
    log = compute_env.settings.workspaces_dir / "alice" / run_dir / "log.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("step 1\r\x1b[32mstep 2\x1b[0m\nloss \xe9 0.5\n")
    queue = train.service.queue
    failed = queue.submit("alice", "train", "trainer.jobs.train:run_weak_job", {})
    assert queue.claim_next(1, os.getpid()) is not None
    queue.finish(failed.id, JobState.FAILED, error="Traceback: boom", message="failed")
    calls = [call("describe_training"),
             call("list_jobs"),
             call("start_training", dataset="sentiment", recipe="weak", idempotency_key="k1"),
             call("start_training", dataset="sentiment", recipe="weak", idempotency_key="k1"),
             call("job_status", job_id="{{2.id}}", log_lines=5),
             call("wait_job", job_id="{{2.id}}", max_wait_s=1),
             call("job_status", job_id=done_id, log_lines=10),
             call("wait_job", job_id=done_id),
             call("job_status", job_id=failed.id, log_lines=10),
             call("cancel_job", job_id=failed.id),
             call("list_jobs", state="failed"),
             call("list_jobs", kind="train", state="queued", limit=5),
             call("cancel_job", job_id="{{2.id}}"),
             call("cancel_job", job_id="{{2.id}}"),
             call("list_jobs"),
             call("job_status", job_id="x", log_lines=-3)]
    done = check(await sweep(train, compute_env.tokens["alice"], compute_env.tokens["grader-only"],
                             calls), "train", "log_lines")
    assert done["cancel_job"]["structured"]["state"] == "cancelled", done["cancel_job"]


@pytest.mark.bwrap
async def test_predict(sweep: Sweep, servers: dict, compute_env) -> None:  # noqa: F811
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
             call("predict", dataset="sentiment", split="test", checkpoint="ckpt", idempotency_key="p-1"),
             call("job_status", job_id="{{3.id}}"),
             call("wait_job", job_id="{{3.id}}", max_wait_s=1),
             call("list_jobs", kind="predict"),
             call("cancel_job", job_id="{{3.id}}"),
             call("predict", dataset="sentiment", batch_size="many")]
    check(await sweep(predict, compute_env.tokens["alice"], compute_env.tokens["grader-only"], calls),
          "predict", "batch_size")


STDIO_CALLS = {"grader": [call("list_datasets")], "findings": [call("search_findings"), call("sync_findings")],
               "snapshot": [call("list_snapshots")], "train": [call("describe_training"), call("list_jobs")],
               "predict": [call("list_jobs")]}


@pytest.mark.parametrize("server", sorted(STDIO_CALLS))
async def test_stdio(server: str, w2s_home: Path) -> None:
    """Each server over stdio as the Inspector starts it: nothing but protocol on stdout, tools listed and read."""
    script = node_sdk() / "sweep.mjs"
    token = TokenStore(ServerSettings().tokens_db).mint("alice", [server])
    env = {k: v for k, v in os.environ.items() if k != "W2S_CONFIG"} | {
        "W2S_TOKEN": token, "W2S_LITESTREAM": "false", "PYTHONPATH": str(REPO)}
    answer = await node_stdio_sweep(script, f"mcp_servers.{server}", env, STDIO_CALLS[server] + [call("nope")])
    assert answer["list_error"] is None and answer["tools"], answer
    *calls, unknown = answer["calls"]
    assert all(c["threw"] is None and not c["is_error"] for c in calls), calls
    assert unknown["is_error"] or unknown["threw"], unknown  # an unknown tool: refused, the session still up
    assert not any(answer["extras"].values()), answer["extras"]
