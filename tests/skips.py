"""Skips for tests that need something this machine may lack; CI installs all of it (scripts/setup.sh)."""

from __future__ import annotations

import shutil

import pytest


def require_bwrap() -> None:
    """Skip unless bubblewrap is installed and can make a sandbox here (user namespaces allowed)."""
    from sandbox.backends.bwrap import BwrapBackend

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (scripts/setup.sh installs it; CI too)")
    reason = BwrapBackend().available()
    if reason:
        pytest.skip(f"bubblewrap cannot run here: {reason}")
