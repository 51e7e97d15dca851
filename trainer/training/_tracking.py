"""Links between training runs and experiment trackers: the tags a run carries, and finding a run again.

A run's MLflow record is tagged with its run folder and, when the folder lies under a compute job's
`runs/<job id>/`, with that job id; the dashboard finds the MLflow run behind a finding's job by that tag. Nothing
here imports mlflow at import time, and nothing runs unless `MLFLOW_TRACKING_URI` is set by the user.
"""

from __future__ import annotations

import re
from pathlib import Path

RUN_DIR_TAG = "w2s.run_dir"
JOB_TAG = "w2s.job_id"
_JOB_ID = re.compile(r"^[a-z]+-[0-9a-f]{12}\Z")


def job_id_of(folder: Path) -> str | None:
    """The compute job whose run folder holds `folder` (`.../runs/train-0123456789ab/strong`), if any."""
    found = [part for part in folder.parts if _JOB_ID.match(part)]
    return found[-1] if found else None


def run_tags(folder: Path) -> dict[str, str]:
    """Tags for a tracker's run of the training that writes into `folder`."""
    tags = {RUN_DIR_TAG: str(folder)}
    job = job_id_of(folder)
    if job is not None:
        tags[JOB_TAG] = job
    return tags


def find_mlflow_run(job_id: str, tracking_uri: str | None = None) -> str | None:
    """The newest MLflow run tagged with `job_id` in the configured tracking store, or None (also when MLflow is
    not installed or the store cannot be read: a missing tracker never breaks a page)."""
    if not _JOB_ID.match(job_id):
        return None
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri)
        experiments = [e.experiment_id for e in client.search_experiments()]
        if not experiments:
            return None
        found = client.search_runs(experiments, filter_string=f"tags.`{JOB_TAG}` = '{job_id}'",
                                   order_by=["attributes.start_time DESC"], max_results=1)
    except Exception:  # noqa: BLE001 - any tracker failure means "no link", never a broken dashboard
        return None
    return found[0].info.run_id if found else None
