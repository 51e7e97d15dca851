import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.jobs import JOB_KINDS, JobPayload, job_kind, register_job_kind
from trainer.jobs.builtin import sleep_job
from trainer.registry import UnknownNameError

EXPECTED = {"sleep", "environment", "probe", "imports", "idea", "sft", "weak", "predict"}


def test_every_job_function_is_a_registered_kind_with_a_target_in_trainer_jobs() -> None:
    assert set(JOB_KINDS.names()) == EXPECTED
    for kind in JOB_KINDS.as_dict().values():
        assert kind.target.startswith("trainer.jobs.") and kind.summary
        assert job_kind(kind.name) is kind and job_kind(kind.target) is kind
    assert job_kind("sleep").run is sleep_job and job_kind("sleep").target == "trainer.jobs.builtin:sleep_job"


@pytest.mark.parametrize("target", [
    "trainer.jobs.builtin:VISIBLE_ENV",  # a public module's attribute that is not a registered kind
    "trainer.jobs._fs:make_dirs_nofollow",  # a private module
    "trainer.jobs.nope:run",  # no such module
    "trainer.jobs.__main__:main",
    "os:system",  # outside the package
    "sleep_job",  # a function's name is not a kind's name
])
def test_anything_not_registered_is_refused_with_the_registered_kinds(target: str) -> None:
    with pytest.raises(UnknownNameError, match="sleep") as caught:
        job_kind(target)
    assert target in str(caught.value)


def test_a_kind_must_live_in_a_public_module_of_trainer_jobs() -> None:
    def stray(spec: dict, ctx: object) -> dict:
        return {}

    with pytest.raises(ValueError, match="must live in a public module of trainer.jobs"):
        register_job_kind("stray")(stray)
    assert "stray" not in JOB_KINDS


def test_a_target_imports_only_the_module_it_names() -> None:
    # A sleep job must not pay for the training modules (torch, transformers) at start.
    code = ("import sys; from trainer.jobs import job_kind; job_kind('trainer.jobs.builtin:sleep_job'); "
            "print(sorted(m for m in ('trainer.jobs.train', 'trainer.jobs.predict', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def _run_job(tmp_path: Path, target: str, args: dict, cwd: Path | None = None) -> list[dict]:
    payload = JobPayload(job_id="j1", agent="a", kind="sleep", target=target, args=args, run_dir="runs/j1")
    env = {**os.environ, "W2S_WORKSPACE": str(tmp_path), "W2S_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
           "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-I", "-m", "trainer.jobs"], input=payload.dumps(), capture_output=True,
                         env=env, check=True, timeout=120, cwd=cwd)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_python_I_job_body_runs_a_registered_kind_by_target_or_name(tmp_path: Path) -> None:
    for target in ("trainer.jobs.builtin:sleep_job", "sleep"):
        events = _run_job(tmp_path, target, {"seconds": 0, "steps": 1})
        assert events[-1]["event"] == "result" and events[-1]["result"]["slept_s"] == 0


def test_python_I_job_body_refuses_an_unregistered_target(tmp_path: Path) -> None:
    events = _run_job(tmp_path, "trainer.jobs.builtin:VISIBLE_ENV", {})
    assert events[-1]["event"] == "failed"
    assert "is not a registered job kind" in events[-1]["error"] and "sleep (trainer.jobs.builtin:sleep_job)" in \
        events[-1]["error"]


def test_a_module_planted_in_the_workspace_is_never_imported(tmp_path: Path) -> None:
    """The agent plants `trainer/jobs/evil.py` (and a `trainer` package, `sitecustomize`) in its workspace, the job's
    cwd, and names it as the target: refused without running a line of it."""
    marker = tmp_path / "ran"
    body = f"open({str(marker)!r}, 'w').write('planted code ran')\ndef run(spec, ctx):\n    return {{}}\n"
    for rel in ("trainer/__init__.py", "trainer/jobs/__init__.py", "trainer/jobs/evil.py", "sitecustomize.py",
                "usercustomize.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    for target in ("trainer.jobs.evil:run", "trainer.jobs.\uff45vil:run", "trainer.jobs.evil.x:run"):
        events = _run_job(tmp_path, target, {}, cwd=tmp_path)
        assert events[-1]["event"] == "failed" and "is not a registered job kind" in events[-1]["error"], target
    assert not marker.exists()
