"""Where a training job's labels come from, checked before any job exists.

    weak:<artifact id>   the weak model's soft labels (train_unlabel or test)
    job:<predict job id> the output of one of your predict jobs
    file:<path>          a JSONL file in your workspace: {"id", "label"} or {"id", "p"} per row,
                         or a JSON {"ids": [...], "predictions": [...]} as predict writes it
    train_label          the public labels of train_label
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from mcp_servers.jobs import JobError, JobQueue, JobState
from mcp_servers.jobs._workspace import inside_workspace
from trainer.data import PublicSplit, target_of
from trainer.weak import load_weak_artifact

SOURCES_HELP = "labels_source is 'weak:<artifact id>', 'job:<predict job id>', 'file:<path in your workspace>' or 'train_label'"


def _probability(value: object, where: str, task: str) -> float:
    if isinstance(value, str):
        try:
            return float(target_of(value, task))  # "A"/"B"
        except Exception:  # noqa: BLE001 (reported below with the offending value)
            raise JobError(f"{where}: label {value!r} is not 0/1, true/false or A/B", SOURCES_HELP) from None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0:
        return float(value)
    raise JobError(f"{where}: label {value!r} is not a probability in [0, 1] or a 0/1 label", SOURCES_HELP)


def _read_file(path: Path, relative: str, task: str) -> dict[str, float]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
            ids, values = data["ids"], data["predictions"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise JobError(f"{relative}: expected a JSON object with 'ids' and 'predictions'", SOURCES_HELP) from None
        if len(ids) != len(values):
            raise JobError(f"{relative}: {len(ids)} ids but {len(values)} predictions", SOURCES_HELP)
        return {str(i): _probability(v, f"{relative} row {n + 1}", task) for n, (i, v) in enumerate(zip(ids, values))}
    labels: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise JobError(f"{relative}:{number}: not valid JSON", "write one JSON object per line") from None
        if not isinstance(record, dict) or "id" not in record or ("label" not in record and "p" not in record):
            raise JobError(f"{relative}:{number}: each line needs 'id' and 'label' (or 'p')", SOURCES_HELP)
        labels[str(record["id"])] = _probability(record.get("p", record.get("label")), f"{relative}:{number}", task)
    return labels


def resolve_labels(source: str, split: PublicSplit, workspace: Path, queue: JobQueue, agent: str) -> list[float]:
    """P(class 1) for every row of `split` in order, or a JobError that says what is wrong with the source."""
    kind, _, ref = source.partition(":")
    task = split.task.value
    if kind == "train_label" and not ref:
        if split.split != "train_label":
            raise JobError("labels_source 'train_label' only labels train_split 'train_label'",
                           "set train_split to 'train_label', or pick another labels_source")
        return [float(t) for t in split.targets()]
    if kind == "weak" and ref:
        try:
            artifact = load_weak_artifact(ref)
        except (ValueError, FileNotFoundError) as exc:
            raise JobError(str(exc), "build one with start_training(recipe='weak') and pass its artifact id") from None
        if artifact.config.get("dataset") != split.dataset:
            raise JobError(f"artifact {ref} is for dataset {artifact.config.get('dataset')!r}, not {split.dataset!r}",
                           "use a weak artifact built on the same dataset")
        if split.split not in ("train_unlabel", "test"):
            raise JobError(f"weak artifacts label train_unlabel and test, not {split.split}", "change train_split")
        ids, probs = artifact.probs(split.split)
        labels = dict(zip(ids, probs.tolist(), strict=True))
        where = f"artifact {ref}"
    elif kind == "job" and ref:
        view = queue.view(ref, agent)
        if view.kind != "predict" or view.state != JobState.SUCCEEDED or not view.result:
            raise JobError(f"job {ref} is a {view.state} {view.kind} job", "pass a predict job that succeeded")
        path = workspace / view.result["predictions_file"]
        labels = _read_file(path, f"job {ref}", task)
        where = f"job {ref}"
    elif kind == "file" and ref:
        path = inside_workspace(workspace, ref)
        if not path.is_file():
            raise JobError(f"{ref!r} is not a file", SOURCES_HELP)
        labels = _read_file(path, ref, task)
        where = ref
    else:
        raise JobError(f"unknown labels_source {source!r}", SOURCES_HELP)
    missing = [i for i in split.ids if i not in labels]
    if missing or len(labels) != len(split):
        raise JobError(f"{where} labels {len(labels)} rows, {len(split)} expected for {split.dataset}/{split.split} "
                       f"({len(missing)} of its ids missing, e.g. {missing[0] if missing else 'none'})",
                       f"give exactly one label per row of {split.split}.jsonl, matched by id")
    return [labels[i] for i in split.ids]
