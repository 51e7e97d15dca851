"""Operator-side data handling: the only code that reads or writes hidden labels.

`prepare` turns a reference `labeled_data/` tree into the public tree plus the label store; the testbed builders
make labeled data from packaged corpora; `LabelStore` is what the grader scores against.
"""

from mcp_servers.grader.datasets._prepare import PreparedDataset, find_labeled_datasets, prepare, prepare_dataset
from mcp_servers.grader.datasets._store import HiddenLabels, LabelStore

__all__ = ["HiddenLabels", "LabelStore", "PreparedDataset", "find_labeled_datasets", "prepare", "prepare_dataset"]
