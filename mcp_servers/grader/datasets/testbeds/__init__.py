"""Offline testbeds built from packaged corpora: `sentiment` and `questions` (adding one is adding a file)."""

from mcp_servers.grader.datasets.testbeds._raw import RAW_PACKAGES, MissingRawDataError, raw_file
from mcp_servers.grader.datasets.testbeds._registry import (
    SIZES,
    TESTBEDS,
    SplitRows,
    Testbed,
    get_testbed,
    register_testbed,
    testbeds,
)

__all__ = [
    "RAW_PACKAGES",
    "SIZES",
    "TESTBEDS",
    "MissingRawDataError",
    "SplitRows",
    "Testbed",
    "get_testbed",
    "raw_file",
    "register_testbed",
    "testbeds",
]
