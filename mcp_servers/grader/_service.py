"""The grader's logic, independent of MCP: validate, score, apply integrity rules, store, answer.

`Grader.submit` is what the `submit_predictions` tool calls; tests and the benchmark call it directly too.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Engine, func
from sqlmodel import select

from mcp_servers.core import Identity, RefusedError, ServerSettings, write_session
from mcp_servers.grader._calibration import Calibration, read_calibration
from mcp_servers.grader._integrity import ladder, near_duplicate, pack_hard, public_mask, split_salt
from mcp_servers.grader._models import DatasetInfo, PartReport, SubmitResult
from mcp_servers.grader._records import SubmissionRow, encode_predictions, init_grader_db
from mcp_servers.grader._scoring import (
    SLICES,
    PredictionError,
    Scores,
    hard_labels,
    pgr,
    score,
    slice_array,
    validate_predictions,
)
from mcp_servers.grader.datasets import HiddenLabels, LabelStore
from trainer import paths

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class GraderError(RefusedError):
    """A refused request of the grader server."""


class GraderSettings(ServerSettings):
    """Grader keys: `W2S_GRADER_<KEY>` or the `[grader]` table of the settings file."""

    model_config = SettingsConfigDict(env_prefix="W2S_GRADER_", extra="ignore", populate_by_name=True)
    config_section = "grader"

    label_store: Path = Field(default_factory=lambda: paths().label_store_dir,
                              description="the label store (default: W2S_LABEL_STORE via trainer.paths)")
    public_fraction: float = Field(0.5, gt=0, le=1, description="share of test groups agents are scored on")
    ladder_step: float = Field(0.01, ge=0, lt=1, description="Ladder margin; 0 turns the Ladder off")
    decimals: int = Field(3, ge=1, le=6, description="digits of every reported number")
    near_duplicate_fraction: float = Field(0.01, ge=0, le=1)
    near_duplicate_min_rows: int = Field(5, ge=0)
    near_duplicate_window: int = Field(200, ge=0, description="earlier submissions compared with each new one")
    max_submissions: int | None = Field(None, ge=1, description="per agent and dataset; None = unlimited")
    rate_limit_per_minute: int | None = Field(None, ge=1, description="per agent; None = unlimited")
    max_predictions: int = Field(1_000_000, ge=1, description="longest predictions list accepted")


def _reference(cal: Calibration | None, part: str) -> tuple[float, float] | None:
    """(weak, strong) accuracies PGR is measured against for the overall score or one slice, if calibrated."""
    if cal is None:
        return None
    if part == "overall":
        return cal.weak_acc, cal.strong_acc
    sliced = cal.slices.get(part)  # type: ignore[call-overload]
    return None if sliced is None else (sliced.weak_acc, sliced.strong_acc)


@dataclass(frozen=True)
class _Loaded:
    labels: HiddenLabels
    mask: np.ndarray
    slices: np.ndarray
    stamp: tuple[float, float]


class Grader:
    """One grader over a label store and a database engine."""

    def __init__(self, settings: GraderSettings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self.store = LabelStore(settings.label_store)
        self._cache: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        init_grader_db(engine)

    # -- datasets ---------------------------------------------------------------------------------------------
    def check_dataset(self, dataset: str) -> None:
        known = self.store.datasets()
        if not _NAME_RE.match(dataset or "") or dataset not in known:
            raise GraderError(f"unknown dataset {dataset!r}", f"send one of: {', '.join(known) or 'none prepared'}")

    def test_labels(self, dataset: str) -> tuple[HiddenLabels, np.ndarray]:
        """Test labels and the public mask (cached until the label files change)."""
        self.check_dataset(dataset)
        folder = self.settings.label_store / dataset
        stamp = ((folder / "meta.json").stat().st_mtime, (folder / "test.jsonl").stat().st_mtime)
        with self._lock:
            hit = self._cache.get(dataset)
            if hit is None or hit.stamp != stamp:
                labels = self.store.load(dataset, "test")
                mask = public_mask(labels, self.settings.public_fraction, split_salt(self.settings.label_store))
                hit = self._cache[dataset] = _Loaded(labels, mask, slice_array(labels), stamp)
        return hit.labels, hit.mask

    def calibration(self, dataset: str) -> Calibration | None:
        return read_calibration(self.settings.label_store, dataset)

    def datasets(self) -> list[DatasetInfo]:
        infos = []
        for name in self.store.datasets():
            meta = self.store.meta(name)
            _, mask = self.test_labels(name)
            cal = self.calibration(name)
            infos.append(DatasetInfo(
                name=name, task=meta["task"], sizes=meta["sizes"], scored_rows=int(mask.sum()),
                weak_acc=None if cal is None else self._round(cal.weak_acc),
                strong_acc=None if cal is None else self._round(cal.strong_acc),
                calibration_note=None if cal else "not calibrated yet: submissions get accuracy, PGR is null",
            ))
        return infos

    # -- submit -----------------------------------------------------------------------------------------------
    def submit(self, who: Identity, dataset: str, predictions: list[float] | np.ndarray, idea: str | None = None,
               note: str | None = None, seed: int | None = None) -> SubmitResult:
        if len(predictions) > self.settings.max_predictions:
            raise GraderError(f"payload too large: {len(predictions)} predictions",
                              f"send at most {self.settings.max_predictions}, one per test row")
        labels, mask = self.test_labels(dataset)
        slices = self._cache[dataset].slices
        try:
            values = validate_predictions(predictions, len(labels))
        except PredictionError as exc:
            raise GraderError(str(exc)) from None
        cal = self.calibration(dataset)
        exact = score(values, labels, cal, mask, slices)
        hard = hard_labels(values)
        bits = pack_hard(hard)
        blob, digest = encode_predictions(values)
        now = datetime.now(UTC)
        with write_session(self.engine) as session:
            used, best = self._history(session, who.agent, dataset)
            self._check_budget(session, who.agent, used, dataset, now)
            earlier = session.exec(
                select(SubmissionRow.id, SubmissionRow.hard_bits)
                .where(SubmissionRow.agent == who.agent, SubmissionRow.dataset == dataset)
                .order_by(SubmissionRow.id.desc()).limit(self.settings.near_duplicate_window)  # type: ignore[union-attr]
            ).all()
            reports = self._ladder(exact, best, cal)
            dup = near_duplicate(bits, [(int(i), b) for i, b in earlier], len(labels),
                                 self.settings.near_duplicate_fraction, self.settings.near_duplicate_min_rows)
            flags = [dup.flag()] if dup else []
            row = SubmissionRow(
                agent=who.agent, dataset=dataset, created_at=now, idea=idea, note=note, seed=seed, kind=exact.kind,
                n=len(labels), predictions=blob, predictions_sha256=digest, hard_bits=bits,
                exact_json=exact.model_dump_json(), reported_accuracy=reports["overall"].accuracy,
                reported_pgr=reports["overall"].pgr,
                reported_id_accuracy=reports["id"].accuracy if "id" in reports else None,
                reported_ood_accuracy=reports["ood"].accuracy if "ood" in reports else None,
                reported_json="", improved=reports["overall"].improved, flags=json.dumps(flags),
            )
            result = SubmitResult(
                submission_id=0, agent=who.agent, dataset=dataset, kind=exact.kind, overall=reports["overall"],
                id=reports.get("id"), ood=reports.get("ood"), note=self._note(int(mask.sum()), len(labels)),
                flags=flags, submissions_used=used + 1,
                submissions_left=None if self.settings.max_submissions is None
                else self.settings.max_submissions - used - 1,
            )
            row.reported_json = result.model_dump_json(exclude={"submission_id"})
            session.add(row)
            session.flush()
            result.submission_id = int(row.id or 0)
        return result

    def _history(self, session: Any, agent: str, dataset: str) -> tuple[int, dict[str, float | None]]:
        """(submissions so far, best reported accuracy per part) of an agent on a dataset, in one query."""
        row = session.exec(select(
            func.count(), func.max(SubmissionRow.reported_accuracy), func.max(SubmissionRow.reported_id_accuracy),
            func.max(SubmissionRow.reported_ood_accuracy),
        ).where(SubmissionRow.agent == agent, SubmissionRow.dataset == dataset)).one()
        return int(row[0]), {"overall": row[1], "id": row[2], "ood": row[3]}

    def _check_budget(self, session: Any, agent: str, used: int, dataset: str, now: datetime) -> None:
        limit = self.settings.max_submissions
        if limit is not None and used >= limit:
            raise GraderError(f"submission budget spent: {used} of {limit} on {dataset}",
                              "no further submissions are scored; ask the operator to raise the budget")
        rate = self.settings.rate_limit_per_minute
        if rate is not None:
            recent = int(session.exec(select(func.count()).select_from(SubmissionRow).where(
                SubmissionRow.agent == agent, SubmissionRow.created_at > now - timedelta(minutes=1))).one())
            if recent >= rate:
                raise GraderError(f"rate limit: {rate} submissions per minute", "wait a minute and submit again")

    def _ladder(self, exact: Scores, best: dict[str, float | None], cal: Calibration | None) -> dict[str, PartReport]:
        step, out = self.settings.ladder_step, {}
        for part in ("overall", *SLICES):
            got = getattr(exact, part)
            if got is None:
                continue
            if step > 0:
                accuracy, improved = ladder(got.accuracy, best[part], step)
            else:
                accuracy = self._round(got.accuracy)
                improved = best[part] is None or accuracy > best[part]  # type: ignore[operator]
            ref = _reference(cal, part)
            value = None if ref is None else pgr(accuracy, *ref)
            out[part] = PartReport(accuracy=self._round(accuracy), pgr=None if value is None else self._round(value),
                                   pgr_note=got.pgr_note, improved=improved)
        return out

    def _note(self, public: int, total: int) -> str:
        step = self.settings.ladder_step
        ladder_text = (f"A part's accuracy changes only when it beats your best on this dataset by >= {step} "
                       "(Ladder rule); otherwise your best is repeated and improved=false. " if step > 0 else "")
        return (f"Scored on the public part of test ({public} of {total} rows; the private part is scored by the "
                f"operator at the end). {ladder_text}Numbers are rounded to {self.settings.decimals} digits.")

    def _round(self, value: float) -> float:
        return round(float(value), self.settings.decimals)
