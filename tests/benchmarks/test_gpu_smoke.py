"""The GPU smoke check at a tiny size (smollm2-135m, two LoRA steps through the job runner on the GPU slot, then
prediction with torch and, where installed, vLLM). It needs CUDA: on a CPU-only host it is skipped."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tiny_gpu_smoke_trains_on_the_gpu_and_predicts(run_bench: Callable[..., str]) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("benchmarks/gpu_smoke.py needs a CUDA GPU; this host has none")
    out = run_bench("gpu_smoke.py", "--model", "smollm2-135m", "--steps", "2", timeout=840)
    report = json.loads(out[out.index("{"):])
    assert report["cuda"] is True and report["device"] and report["model"] == "smollm2-135m"
    assert report["visible_gpus"], report  # the job's slot was given a GPU
    assert report["train_job"]["state"] == "succeeded" and report["train_job"]["error"] is None, report
    assert report["torch_predict_s"] > 0
    if report["vllm_available"]:
        assert report["vllm_predict_s"] > 0 and report["vllm_torch_hard_agreement"] >= 0.9, report
