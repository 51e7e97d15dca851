"""The trainer tests import their data helpers (trainer_helpers.py) by name; `tiny_home` lives in tests/conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # test modules import trainer_helpers by name
