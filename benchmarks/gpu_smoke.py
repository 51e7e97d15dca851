"""GPU smoke check, for a GPU host (minutes): CUDA torch, a LoRA training job of a causal LM through the job runner
on the GPU slot, then prediction with vLLM serving the LoRA adapter, compared with the transformers backend.

    python benchmarks/gpu_smoke.py [--model Qwen/Qwen1.5-0.5B-Chat] [--steps 20]

`--model` takes a registry name, an HF id already in the local HF cache, or a local path; with no network the
default falls back to the packaged `smollm2-135m` when the Qwen weights are not cached. Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _pick_model(requested: str) -> str:
    if requested != "Qwen/Qwen1.5-0.5B-Chat":
        return requested
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(requested, local_files_only=True)
        return requested
    except Exception:  # noqa: BLE001 (not cached: use the packaged causal LM)
        return "smollm2-135m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="Qwen/Qwen1.5-0.5B-Chat")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    import torch

    report: dict = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    model = _pick_model(args.model)
    report["model"] = model
    from trainer import paths

    operator = paths()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(W2S_HOME=tmp, W2S_RAW_DIR=str(operator.raw_dir), W2S_MODELS_DIR=str(operator.models_dir))
        from mcp_servers.core import create_sqlite_engine
        from mcp_servers.grader.datasets._build import build_testbed
        from mcp_servers.jobs import JobQueue, JobRunner, JobSandbox, visible_gpus
        from trainer.data import load_split
        from trainer.training import TrainConfig

        build_testbed("sentiment", "tiny", seed=0)
        where = paths()
        for folder, _, _ in os.walk(where.data_dir):
            os.chmod(folder, 0o755)  # the job's sandbox runs as an unprivileged user
        split = load_split("sentiment", "train_unlabel")
        config = TrainConfig(model=model, lora=True, lora_r=16, lora_alpha=32, max_steps=args.steps, batch_size=8,
                             lr=1e-4, max_length=512, progress=False)
        spec = {"dataset": "sentiment", "split": "train_unlabel", "config": config.to_dict(), "hard_labels": False,
                "labels_source": "smoke", "labels": [float(n % 2) for n in range(len(split))]}
        db = Path(tmp) / "jobs.db"
        where.workspaces_dir.mkdir(parents=True, exist_ok=True)
        queue = JobQueue(create_sqlite_engine(db), workspaces_dir=where.workspaces_dir)
        box = JobSandbox(workspaces_dir=where.workspaces_dir, data_dir=where.data_dir, models_dir=where.models_dir,
                         artifacts_dir=where.artifacts_dir, backend_name=os.environ.get("W2S_SANDBOX", "auto"))
        report["visible_gpus"] = visible_gpus()
        started = time.perf_counter()
        with JobRunner(queue, box):  # the job runs in a sandbox given the slot's GPU
            job = queue.submit("gpu", "train", "trainer.jobs.train:run_sft_job", spec)
            while not queue.view(job.id).state.finished:
                time.sleep(0.5)
        view = queue.view(job.id, log_lines=30)
        report["train_job"] = {"state": view.state, "wall_s": round(time.perf_counter() - started, 1),
                               "error": view.error, "final": (view.result or {}).get("final")}
        if view.state != "succeeded":
            report["log_tail"] = view.log_tail
            print(json.dumps(report, indent=2, default=str))
            raise SystemExit(1)
        from trainer.inference import predict, vllm_available

        test = load_split("sentiment", "test")
        checkpoint = where.workspaces_dir / "gpu" / view.result["checkpoint"]
        t = time.perf_counter()
        torch_p = predict(checkpoint, test.rows, backend="torch")
        report["torch_predict_s"] = round(time.perf_counter() - t, 2)
        report["vllm_available"] = vllm_available()
        if vllm_available():
            t = time.perf_counter()
            vllm_p = predict(checkpoint, test.rows, backend="vllm")
            report["vllm_predict_s"] = round(time.perf_counter() - t, 2)
            report["vllm_torch_hard_agreement"] = round(float(((vllm_p > 0.5) == (torch_p > 0.5)).mean()), 4)
            report["vllm_torch_max_abs_diff"] = round(float(abs(vllm_p - torch_p).max()), 4)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
