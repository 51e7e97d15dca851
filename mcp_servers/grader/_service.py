"""The grader's logic, independent of MCP: validate, score, apply integrity rules, store, answer.

`Grader.submit` is what the `submit_predictions` tool calls; tests and the benchmark call it directly too.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Engine, func
from sqlmodel import select

from mcp_servers.core import IdempotencyKeys, Identity, RefusedError, ServerSettings, request_sha256, write_session
from mcp_servers.grader._calibration import Calibration, read_calibration
from mcp_servers.grader._climb import ClimbSettings, inspect
from mcp_servers.grader._feedback import Best, Feedback
from mcp_servers.grader._integrity import pack_hard, public_mask, split_salt
from mcp_servers.grader._models import DatasetInfo, SubmitResult
from mcp_servers.grader._records import (
    IdempotencyRow,
    SubmissionRow,
    closed_at,
    encode_predictions,
    init_grader_db,
)
from mcp_servers.grader._scoring import PredictionError, hard_labels, score, slice_array, validate_predictions
from mcp_servers.grader.datasets import HiddenLabels, LabelStore
from trainer import paths

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
MAX_INT = 2**63 - 1
"""Largest integer SQLite stores: every id and seed is bounded by it at the tool boundary."""


class GraderError(RefusedError):
    """A refused request of the grader server."""


class GraderSettings(ServerSettings):
    """Grader keys: `W2S_GRADER_<KEY>` or the `[grader]` table of the settings file."""

    model_config = SettingsConfigDict(env_prefix="W2S_GRADER_", extra="ignore", populate_by_name=True)
    config_section = "grader"

    label_store: Path = Field(default_factory=lambda: paths().label_store_dir,
                              validation_alias=AliasChoices("label_store", "W2S_LABEL_STORE"),
                              description="the label store: W2S_LABEL_STORE or `label_store` in the settings file, "
                                          "the one name trainer.paths (and so every guard) follows too")
    public_fraction: float = Field(0.5, gt=0, le=1, description="share of test groups agents are scored on")
    ladder_step: float = Field(0.01, ge=0, lt=1, description="Ladder margin; 0 turns the Ladder off")
    decimals: int = Field(3, ge=1, le=6, description="digits of every reported number")
    ladder_noise: float = Field(0.0, ge=0, lt=1, description="Laplace noise scale on the Ladder's threshold "
                                                               "(Thresholdout-style); 0 = none")
    near_duplicate_fraction: float = Field(0.01, ge=0, le=1)
    near_duplicate_min_rows: int = Field(5, ge=0)
    climb_window: int = Field(20, ge=0, description="recent submissions the climb detector's star ratio covers")
    climb_ratio: float = Field(0.85, gt=0, le=1, description="star ratio at or above which a climb is flagged")
    climb_min_submissions: int = Field(10, ge=3, description="submissions in the window before a climb can be "
                                                             "flagged")
    withhold_flagged: bool = Field(True, description="a flagged submission (near-duplicate, climb) learns nothing: "
                                                     "the best is repeated")
    max_submissions: int | None = Field(100, ge=0, description="per agent and dataset; 0 or None = unlimited")
    rate_limit_per_minute: int | None = Field(10, ge=0, description="per agent; 0 or None = unlimited")
    rate_limit_per_hour: int | None = Field(30, ge=0, description="per agent; 0 or None = unlimited")
    final_selections: int = Field(2, ge=1, le=20, description="final submissions an agent may mark per dataset")
    max_predictions: int = Field(1_000_000, ge=1, description="longest predictions list accepted")

    @model_validator(mode="after")
    def _one_label_store_name(self) -> GraderSettings:
        # A second name would move the grader's store where no guard looks; refuse it rather than ignore it.
        if os.environ.get("W2S_GRADER_LABEL_STORE"):
            raise ValueError("W2S_GRADER_LABEL_STORE is not a setting: the label store is moved with W2S_LABEL_STORE "
                             "(or `label_store` in the settings file), which the sandbox policy follows too")
        return self


def _reference(cal: Calibration | None, part: str) -> tuple[float, float] | None:
    """(weak, strong) accuracies PGR is measured against for the overall score or one slice, if calibrated."""
    if cal is None:
        return None
    if part == "overall":
        return cal.weak_acc, cal.strong_acc
    sliced = cal.slices.get(part)  # type: ignore[call-overload]
    return None if sliced is None else (sliced.weak_acc, sliced.strong_acc)


def check_ids(sent: list[str], expected: list[str], n_predictions: int) -> None:
    """Refuse ids that are not the test file's, in its order, naming the first position that differs."""
    if len(sent) != n_predictions:
        raise GraderError(f"{len(sent)} ids for {n_predictions} predictions",
                          "send one id per prediction, as the predictions file lists them")
    for position, (got, want) in enumerate(zip(sent, expected, strict=False)):
        if str(got) != want:
            raise GraderError(f"row {position}: id {str(got)[:80]!r} where the test file has {want!r} "
                              "(predictions reordered or from another file)",
                              "send the predictions in the public test file's row order, with its ids")
    if len(sent) != len(expected):
        raise GraderError(f"{len(sent)} ids, the test file has {len(expected)} rows",
                          "send one prediction per test row, in file order")


_KEYS = IdempotencyKeys(
    IdempotencyRow, "submission_id", GraderError, "submission",
    used_for="another submission ({ref}); nothing was stored",
    reuse_fix="send a new key for new predictions; reuse a key only to retry the very same call")


def _replayed(first: SubmitResult) -> SubmitResult:
    """A stored first answer as a retry gets it: marked replayed."""
    first.replayed = True
    return first


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
        self._rng = np.random.default_rng()  # OS entropy: the Ladder's noise must not be predictable
        self.feedback = Feedback(settings.ladder_step, settings.decimals, settings.ladder_noise)
        self.climb = ClimbSettings(settings.near_duplicate_fraction, settings.near_duplicate_min_rows,
                                   settings.climb_window, settings.climb_ratio, settings.climb_min_submissions)
        init_grader_db(engine)

    # -- datasets ---------------------------------------------------------------------------------------------
    def check_dataset(self, dataset: str) -> None:
        known = self.store.datasets()
        if not _NAME_RE.match(dataset or "") or dataset not in known:
            raise GraderError(f"unknown dataset {dataset!r}", f"send one of: {', '.join(known) or 'none prepared'}")

    def test_labels(self, dataset: str) -> tuple[HiddenLabels, np.ndarray]:
        """Test labels and the public mask (cached until the label files change)."""
        hit = self._loaded(dataset)
        return hit.labels, hit.mask

    def _loaded(self, dataset: str) -> _Loaded:
        """One consistent cache entry (labels, mask, slices of the same files), taken under the lock; callers
        keep the entry, never re-read the cache after the lock is released (another thread may replace it)."""
        self.check_dataset(dataset)
        folder = self.settings.label_store / dataset
        stamp = ((folder / "meta.json").stat().st_mtime, (folder / "test.jsonl").stat().st_mtime)
        with self._lock:
            hit = self._cache.get(dataset)
            if hit is None or hit.stamp != stamp:
                labels = self.store.load(dataset, "test")
                mask = public_mask(labels, self.settings.public_fraction, split_salt(self.settings.label_store))
                hit = self._cache[dataset] = _Loaded(labels, mask, slice_array(labels), stamp)
        return hit

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
                weak_acc=None if cal is None else self.round_score(cal.weak_acc),
                strong_acc=None if cal is None else self.round_score(cal.strong_acc),
                calibration_note=None if cal else "not calibrated yet: submissions get accuracy, PGR is null",
            ))
        return infos

    # -- submit -----------------------------------------------------------------------------------------------
    def submit(self, who: Identity, dataset: str, predictions: list[float] | np.ndarray, idea: str | None = None,
               note: str | None = None, seed: int | None = None,
               idempotency_key: str | None = None, ids: list[str] | None = None) -> SubmitResult:
        """Score, store and answer one submission.

        With `idempotency_key`, a retry (same agent, key and request) answers the first result and stores and
        counts nothing: no budget, no rate limit, no climb-detector step, even after the run closed. The key is
        stored in the submission's own transaction, so a crash between commit and answer leaves both or neither.
        With `ids` (the ids of the predictions file), the order is checked against the test file's: a reordered
        or different vector is refused with its first differing position, never scored.
        """
        _KEYS.check(idempotency_key)
        if seed is not None and not 0 <= seed <= MAX_INT:
            raise GraderError(f"seed {seed} is out of range", f"send a seed between 0 and {MAX_INT} (2**63 - 1)")
        if len(predictions) > self.settings.max_predictions:
            raise GraderError(f"payload too large: {len(predictions)} predictions",
                              f"send at most {self.settings.max_predictions}, one per test row")
        loaded = self._loaded(dataset)
        labels, mask, slices = loaded.labels, loaded.mask, loaded.slices
        if ids is not None:
            check_ids(ids, labels.ids, len(predictions))
        try:
            values = validate_predictions(predictions, len(labels))
        except PredictionError as exc:
            raise GraderError(str(exc)) from None
        blob, digest = encode_predictions(values)
        request = request_sha256({"dataset": dataset, "predictions_sha256": digest, "idea": idea, "note": note,
                                  "seed": seed})
        # a replay is answered without scoring again
        if (first := _KEYS.replay(self.engine, who.agent, idempotency_key, request, SubmitResult)) is not None:
            return _replayed(first)
        cal = self.calibration(dataset)
        exact = score(values, labels, cal, mask, slices)
        bits = pack_hard(hard_labels(values))
        now = datetime.now(UTC)
        with write_session(self.engine) as session:
            if idempotency_key is not None:  # a concurrent retry may have stored it since the check above
                first = _KEYS.first_answer(session, who.agent, idempotency_key, request, SubmitResult)
                if first is not None:
                    return _replayed(first)
            closed = closed_at(session, dataset)
            if closed is not None:
                raise GraderError(f"the run on {dataset} is closed: private scores were published at "
                                  f"{closed.replace(tzinfo=UTC).isoformat(timespec='seconds')}",
                                  "no further submissions are scored; read the leaderboard for the results")
            history, best = self._history(session, who.agent, dataset)
            self._check_budget(session, who.agent, len(history), dataset, now)
            flags = inspect(bits, history, len(labels), self.climb, None if best is None else best.submission_id)
            reports, improved = self.feedback.answer(exact, best, lambda part: _reference(cal, part), self._noise,
                                                     withhold=bool(flags) and self.settings.withhold_flagged)
            row = SubmissionRow(
                agent=who.agent, dataset=dataset, created_at=now, idea=idea, note=note, seed=seed, kind=exact.kind,
                n=len(labels), predictions=blob, predictions_sha256=digest, hard_bits=bits,
                exact_json=exact.model_dump_json(), reported_accuracy=reports["overall"].accuracy,
                reported_pgr=reports["overall"].pgr,
                reported_id_accuracy=reports["id"].accuracy if "id" in reports else None,
                reported_ood_accuracy=reports["ood"].accuracy if "ood" in reports else None,
                reported_json="", improved=improved, flags=json.dumps(flags),
            )
            limit = self.settings.max_submissions or None
            result = SubmitResult(
                submission_id=0, agent=who.agent, dataset=dataset, kind=exact.kind, overall=reports["overall"],
                id=reports.get("id"), ood=reports.get("ood"), note=self._note(int(mask.sum()), len(labels)),
                flags=flags, submissions_used=len(history) + 1,
                submissions_left=None if limit is None else limit - len(history) - 1,
            )
            row.reported_json = result.model_dump_json(exclude={"submission_id"})
            session.add(row)
            session.flush()
            result.submission_id = int(row.id or 0)
            if idempotency_key is not None:
                _KEYS.record(session, who.agent, idempotency_key, request, submission_id=result.submission_id,
                             result_json=result.model_dump_json(), created_at=now)
        return result

    def _history(self, session: Any, agent: str, dataset: str) -> tuple[list[tuple[int, bytes]], Best | None]:
        """The agent's submissions on the dataset as (id, packed hard bits), oldest first, and its current best."""
        history = [(int(i), b) for i, b in session.exec(
            select(SubmissionRow.id, SubmissionRow.hard_bits)
            .where(SubmissionRow.agent == agent, SubmissionRow.dataset == dataset)
            .order_by(SubmissionRow.id)).all()]  # type: ignore[arg-type]
        row = session.exec(
            select(SubmissionRow.id, SubmissionRow.reported_accuracy, SubmissionRow.reported_id_accuracy,
                   SubmissionRow.reported_ood_accuracy)
            .where(SubmissionRow.agent == agent, SubmissionRow.dataset == dataset, SubmissionRow.improved)
            .order_by(SubmissionRow.reported_accuracy.desc(), SubmissionRow.id.desc()).limit(1)  # type: ignore[attr-defined]
        ).first()
        if row is None:
            return history, None
        parts = {name: float(v) for name, v in (("id", row[2]), ("ood", row[3])) if v is not None}
        return history, Best(int(row[0]), float(row[1]), parts)

    def _check_budget(self, session: Any, agent: str, used: int, dataset: str, now: datetime) -> None:
        limit = self.settings.max_submissions
        if limit and used >= limit:
            raise GraderError(f"submission budget spent: {used} of {limit} on {dataset}",
                              "no further submissions are scored; mark your final submissions with "
                              "select_final_submissions, or ask the operator to raise the budget")
        for rate, window, unit in ((self.settings.rate_limit_per_minute, timedelta(minutes=1), "minute"),
                                   (self.settings.rate_limit_per_hour, timedelta(hours=1), "hour")):
            if not rate:
                continue
            recent = int(session.exec(select(func.count()).select_from(SubmissionRow).where(
                SubmissionRow.agent == agent, SubmissionRow.created_at > now - window)).one())
            if recent >= rate:
                raise GraderError(f"rate limit: {rate} submissions per {unit} (all datasets)",
                                  "wait and submit again later; validate on train_label between submissions")

    def _noise(self) -> float:
        return float(self._rng.laplace())

    def _note(self, public: int, total: int) -> str:
        step = self.settings.ladder_step
        ladder_text = (f"The overall accuracy changes only when it beats your best on this dataset by >= {step} "
                       "(Ladder rule); otherwise your best is repeated and improved=false. The ID/OOD parts are "
                       "those of your best submission, no finer in rows than the overall step. " if step > 0 else "")
        if step > 0 and self.settings.withhold_flagged:
            ladder_text += "A flagged submission (near-duplicate, climb) gets your best repeated. "
        return (f"Scored on the public part of test ({public} of {total} rows); only your final submissions "
                "(select_final_submissions; default: your best) are scored on the private part, when the "
                f"operator publishes. {ladder_text}Numbers are rounded to {self.settings.decimals} digits.")

    def round_score(self, value: float) -> float:
        """A score as agents are shown it: rounded to the grader's `decimals`."""
        return round(float(value), self.settings.decimals)
