"""The grader: the one place that holds labels; submit-and-score over MCP (`python -m mcp_servers.grader`).

Library side (no MCP needed): `score` (pure scoring), `Calibration` with `read_calibration` /
`write_calibration` (the per-dataset calibration file), `Grader` (validate, score, integrity, store), and
`visible_scores` / `read_visible_scores` (the score an agent may see: what every other server that shows grader
scores must call).
"""

from typing import TYPE_CHECKING

from mcp_servers._lazy import lazy_exports
from mcp_servers.grader._calibration import (
    CALIBRATION_FILE,
    Calibration,
    SliceCalibration,
    calibration_path,
    read_calibration,
    write_calibration,
)
from mcp_servers.grader._scoring import PredictionError, Scores, SliceScore, pgr, score, slice_of, validate_predictions
from mcp_servers.grader._visible import VisibleScore, read_visible_scores, visible_scores

if TYPE_CHECKING:
    from mcp_servers.grader._server import build_server
    from mcp_servers.grader._service import Grader, GraderError, GraderSettings

__all__ = [
    "CALIBRATION_FILE",
    "Calibration",
    "Grader",
    "GraderError",
    "GraderSettings",
    "PredictionError",
    "Scores",
    "SliceCalibration",
    "SliceScore",
    "VisibleScore",
    "build_server",
    "calibration_path",
    "pgr",
    "read_calibration",
    "read_visible_scores",
    "score",
    "slice_of",
    "validate_predictions",
    "visible_scores",
    "write_calibration",
]

__getattr__ = lazy_exports(__name__, {  # name -> module, imported on first use
    "build_server": "mcp_servers.grader._server",
    "Grader": "mcp_servers.grader._service",
    "GraderError": "mcp_servers.grader._service",
    "GraderSettings": "mcp_servers.grader._service",
})
