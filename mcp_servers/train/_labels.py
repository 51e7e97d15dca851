"""Where a training job's labels come from, checked before any job exists.

    weak:<artifact id>   the weak model's soft labels (train_unlabel or test)
    job:<job id>         the predictions of one of your predict (or idea) jobs
    file:<path>          a JSONL file in your workspace: {"id", "label"} or {"id", "p"} per row,
                         or a JSON {"ids": [...], "predictions": [...]} as predict writes it
    train_label          the public labels of train_label
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from mcp_servers.jobs import JobError, JobQueue, JobState, read_workspace_file, relative_path
from trainer import paths
from trainer.data import PublicSplit, target_of
from trainer.jobs import OWN_ARTIFACTS
from trainer.predictions import PredictionsFormatError, parse_predictions
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


def _parse(data: bytes, relative: str, task: str, as_json: bool) -> dict[str, float]:
    """Labels from the bytes that were read (once): what is checked is what the job trains on."""
    text = data.decode("utf-8", errors="replace")
    if as_json:
        try:
            data = json.loads(text)
            ids, values = data["ids"], data["predictions"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise JobError(f"{relative}: expected a JSON object with 'ids' and 'predictions'", SOURCES_HELP) from None
        if not isinstance(ids, list) or not isinstance(values, list):
            raise JobError(f"{relative}: 'ids' and 'predictions' must be lists", SOURCES_HELP)
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
        labels = _weak_labels(ref, split, workspace)
        where = f"artifact {ref}"
    elif kind == "job" and ref:
        view = queue.view(ref, agent)
        produced = str((view.result or {}).get("predictions_file", ""))
        if view.state != JobState.SUCCEEDED or not produced:
            raise JobError(f"job {ref} is a {view.state} {view.kind} job without predictions",
                           "pass a predict job (or an idea train job) that succeeded")
        try:  # the one predictions format (trainer.predictions), read once beneath the workspace
            written = parse_predictions(read_workspace_file(workspace, produced))
        except PredictionsFormatError as exc:
            raise JobError(f"job {ref}: {produced} is not a predictions file: {exc}", "run the job again") from None
        labels = dict(zip(written.ids, written.predictions, strict=True))
        where = f"job {ref}"
    elif kind == "file" and ref:
        labels = _parse(read_workspace_file(workspace, relative_path(ref)), ref, task, as_json=ref.endswith(".json"))
        where = ref
    else:
        raise JobError(f"unknown labels_source {source!r}", SOURCES_HELP)
    missing = [i for i in split.ids if i not in labels]
    if missing or len(labels) != len(split):
        raise JobError(f"{where} labels {len(labels)} rows, {len(split)} expected for {split.dataset}/{split.split} "
                       f"({len(missing)} of its ids missing, e.g. {missing[0] if missing else 'none'})",
                       f"give exactly one label per row of {split.split}.jsonl, matched by id")
    return [labels[i] for i in split.ids]


def _weak_labels(ref: str, split: PublicSplit, workspace: Path) -> dict[str, float]:
    """A weak artifact's labels: from the shared cache (operator-side, read-only to every sandbox) when it holds
    the id, else from the agent's own `artifacts/<id>/`, which its jobs built, read with open_beneath."""
    fix = "build one with start_training(recipe='weak') and pass its artifact id"
    if not ref.startswith("weak-") or "/" in ref or ".." in ref or "\0" in ref:
        raise JobError(f"not a weak artifact id: {ref!r} (expected weak-<12 hex>)", fix)
    if split.split not in ("train_unlabel", "test"):
        raise JobError(f"weak artifacts label train_unlabel and test, not {split.split}", "change train_split")
    try:
        artifact = load_weak_artifact(ref, paths().artifacts_dir)
    except ValueError as exc:
        raise JobError(str(exc), fix) from None
    except FileNotFoundError:
        own = f"{OWN_ARTIFACTS}/{ref}"
        try:
            config = json.loads(read_workspace_file(workspace, f"{own}/config.json", max_bytes=1 << 20))
        except JobError as exc:
            if "does not exist" in exc.problem:
                raise JobError(f"weak artifact {ref} does not exist (neither shared nor in your {OWN_ARTIFACTS}/)",
                               fix) from None
            raise
        except json.JSONDecodeError:
            raise JobError(f"{own}/config.json is not JSON", fix) from None
        dataset = config.get("dataset") if isinstance(config, dict) else None
        rows = _parse(read_workspace_file(workspace, f"{own}/{split.split}.jsonl"), f"{own}/{split.split}.jsonl",
                      split.task.value, as_json=False)
    else:
        dataset = artifact.config.get("dataset")
        ids, probs = artifact.probs(split.split)
        rows = dict(zip(ids, probs.tolist(), strict=True))
    if dataset != split.dataset:
        raise JobError(f"artifact {ref} is for dataset {dataset!r}, not {split.dataset!r}",
                       "use a weak artifact built on the same dataset")
    return rows
