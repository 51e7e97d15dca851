"""Training throughput: the trainer's lean loop vs a plain transformers Trainer + peft on the same model and data.

Each variant runs in its own subprocess (so peak memory is its own): same model, LoRA rank/targets, batch size,
steps and rows. The Trainer baseline is the usual causal-LM SFT recipe: prompt + label token, loss masked to the
label token, full-vocabulary logits, DataCollatorForSeq2Seq padding. Prints examples/s, peak memory and the ratio.

    python benchmarks/train_bench.py [--model smollm2-135m] [--rows 48] [--steps 6] [--batch 8] [--repeats 3]

Variants alternate (trainer, lean, trainer, lean, ...) so background load hits both alike; the ratio is of the
medians, and every pair's own ratio is printed so a noisy run is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "trainer"))


def _rows(n: int):
    from trainer_helpers import preference_rows

    return preference_rows(n, 0, "bench", True)


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_lean(args: argparse.Namespace) -> dict:
    from trainer.training import TrainConfig, train

    rows = _rows(args.rows)
    config = TrainConfig(model=args.model, max_steps=args.steps, batch_size=args.batch, progress=False,
                         max_length=args.max_length, log_every=1)
    result = train(config, rows, [r.target() for r in rows])
    # The loop's own clock starts after model load and tokenization, like timing trainer.train() below.
    return {"s": result.history[-1]["elapsed_s"]}


def run_trainer(args: argparse.Namespace) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from trainer.classifier import encode_prompt, label_token_ids
    from trainer.data import TaskType
    from trainer.models import resolve_model
    from trainer.training import lora_targets

    path = resolve_model(args.model).path
    tok = AutoTokenizer.from_pretrained(path)
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=lora_targets(model)))
    ids = label_token_ids(tok, TaskType.PREFERENCE)
    data = []
    for r in _rows(args.rows):
        prompt = encode_prompt(r, tok, args.max_length - 1)
        data.append({"input_ids": prompt + [ids[r.target()]], "labels": [-100] * len(prompt) + [ids[r.target()]]})
    targs = TrainingArguments(output_dir="/tmp/w2s-bench-trainer", per_device_train_batch_size=args.batch,
                              max_steps=args.steps, learning_rate=3e-4, lr_scheduler_type="linear", warmup_steps=0.1,
                              report_to=[], save_strategy="no", logging_steps=10**9, disable_tqdm=True,
                              dataloader_num_workers=0, use_cpu=not torch.cuda.is_available())
    trainer = Trainer(model=model, args=targs, train_dataset=data,
                      data_collator=DataCollatorForSeq2Seq(tok, padding=True))
    t = time.perf_counter()
    trainer.train()
    return {"s": time.perf_counter() - t}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--rows", type=int, default=48)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each variant")
    parser.add_argument("--variant", choices=["lean", "trainer"])
    args = parser.parse_args()
    if args.variant:
        from transformers.utils import logging

        logging.set_verbosity_error()
        out = (run_lean if args.variant == "lean" else run_trainer)(args)
        out["peak_mb"] = _peak_mb()
        print(json.dumps(out))
        return
    runs: dict[str, list[dict]] = {"trainer": [], "lean": []}
    for _ in range(args.repeats):
        for variant, done in runs.items():
            cmd = [sys.executable, __file__, "--variant", variant, *sys.argv[1:]]
            line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            done.append(json.loads(line))
    per_s = {v: [args.steps * args.batch / r["s"] for r in rs] for v, rs in runs.items()}
    summary = {v: {"examples_per_s_median": statistics.median(per_s[v]), "examples_per_s": per_s[v],
                   "peak_mb_max": max(r["peak_mb"] for r in rs)} for v, rs in runs.items()}
    print(json.dumps({"model": args.model, "steps": args.steps, "batch": args.batch, "repeats": args.repeats,
                      **summary, "pair_ratios": [lean / base for lean, base in zip(per_s["lean"], per_s["trainer"])],
                      "throughput_ratio_lean_over_trainer": summary["lean"]["examples_per_s_median"]
                      / summary["trainer"]["examples_per_s_median"]}, indent=2))

if __name__ == "__main__":
    main()
