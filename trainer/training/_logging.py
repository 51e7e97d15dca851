"""Metrics sinks: a JSONL file always; TensorBoard, W&B or MLflow only when installed and configured."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class MetricsLogger:
    """One JSON object per logged step; optional trackers get the same numbers."""

    def __init__(self, path: Path | None, run_name: str, config: dict[str, Any]) -> None:
        self.path = path
        self._handle = None
        self._sinks: list[Any] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")
            self._add_trackers(path.parent, run_name, config)

    def _add_trackers(self, folder: Path, run_name: str, config: dict[str, Any]) -> None:
        # Opt-in by environment so a sandbox never tries to reach a tracking server it was not given.
        if importlib.util.find_spec("tensorboard") is not None and os.environ.get("W2S_TENSORBOARD", "1") != "0":
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(folder / "tb"))
            self._sinks.append(("tb", writer))
        if importlib.util.find_spec("wandb") is not None and (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")):
            import wandb

            self._sinks.append(("wandb", wandb.init(name=run_name, config=config, reinit=True)))
        if importlib.util.find_spec("mlflow") is not None and os.environ.get("MLFLOW_TRACKING_URI"):
            import mlflow

            from trainer.training._tracking import run_tags

            mlflow.start_run(run_name=run_name, tags=run_tags(folder))
            mlflow.log_params({k: str(v)[:250] for k, v in config.items()})
            self._sinks.append(("mlflow", mlflow))

    def log(self, record: dict[str, Any]) -> None:
        if self._handle is not None:
            self._handle.write(json.dumps(record) + "\n")
            self._handle.flush()
        step = int(record.get("step", 0))
        scalars = {k: float(v) for k, v in record.items() if isinstance(v, int | float) and k != "step"}
        for kind, sink in self._sinks:
            if kind == "tb":
                for key, value in scalars.items():
                    sink.add_scalar(key, value, step)
            elif kind == "wandb":
                sink.log(scalars, step=step)
            else:
                sink.log_metrics(scalars, step=step)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        for kind, sink in self._sinks:
            if kind == "tb":
                sink.close()
            elif kind == "wandb":
                sink.finish()
            else:
                sink.end_run()


class StepLog:
    """What every training loop records: a metrics line every `log_every` optimizer steps and at the last, kept in
    `history`, written by a `MetricsLogger` and handed to the job's `on_log` hook (with `total_steps`)."""

    def __init__(self, out_dir: Path | None, run_name: str, config: Any, total: int, micro_per_epoch: int,
                 on_log: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = out_dir / "metrics.jsonl" if out_dir else None
        self.logger = MetricsLogger(self.path, run_name, config.to_dict())
        self.every, self.accum, self.total, self.micro_per_epoch = config.log_every, config.grad_accum, total, micro_per_epoch
        self.on_log = on_log
        self.history: list[dict[str, Any]] = []
        self.started = time.perf_counter()

    def step(self, step: int, loss: float, lr: float, grad_norm: float, agreement: float) -> None:
        """After optimizer step `step` (0-based): log it when it is due."""
        if (step + 1) % self.every and step + 1 != self.total:
            return
        record = {"step": step + 1, "epoch": (step + 1) * self.accum / self.micro_per_epoch, "loss": loss, "lr": lr,
                  "grad_norm": grad_norm, "agreement": agreement, "elapsed_s": self.elapsed()}
        self.history.append(record)
        self.logger.log(record)
        if self.on_log is not None:
            self.on_log({**record, "total_steps": self.total})

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def close(self) -> None:
        self.logger.close()
