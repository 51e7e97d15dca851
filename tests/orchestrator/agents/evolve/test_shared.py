"""Cooperation: genomes read back from findings as the host's syncer renders them; the finding and the snapshot
the agent sends."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp_servers.findings._models import FindingView
from mcp_servers.findings._render import finding_filename, render_finding
from orchestrator.agents.evolve._shared import finding_text, genome_from_finding, read_shared, snapshot_archive
from orchestrator.agents.evolve._space import Genome

SUBMISSION = {"submission_id": 12, "overall": {"accuracy": 0.85, "pgr": 0.61, "improved": True}}


def view(fid: int, idea: str, config: dict[str, Any], best_pgr: float | None = None) -> FindingView:
    now = datetime.now(UTC)
    return FindingView(id=fid, title=f"finding {fid} | with a pipe", summary="s", body="b", agent="bob",
                       finding_type="result", method_family="evolutionary", idea=idea, tags=[], config=config,
                       created_at=now, updated_at=now, seq=fid, best_pgr=best_pgr)


def write(folder: Path, finding: FindingView) -> None:
    (folder / finding_filename(finding)).write_text(render_finding(finding))


def test_genomes_come_back_from_rendered_findings(tmp_path: Path) -> None:
    ours = Genome("probe_w2s", {"mode": "relabel", "strong.lr": 2e-4}, "group_normalize")
    folder = tmp_path / "shared_findings"
    folder.mkdir()
    write(folder, view(1, "evolve:probe_w2s", ours.to_dict(), best_pgr=0.4))
    write(folder, view(2, "train_only_on_confident_labels", {"low": 0.2, "high": 0.8, "seed": 3}, best_pgr=0.7))
    write(folder, view(3, "my-own-script", {"lr": 1}))  # another agent's free-form config: no genome in it
    (folder / "INDEX.md").write_text("# index")
    (folder / "00009-link.md").symlink_to(folder / finding_filename(view(1, "x", {})))
    seen: set[str] = set()
    found = read_shared(folder, seen)
    assert [(g.idea, g.options, pgr) for g, pgr in found] == [
        ("train_only_on_confident_labels", {"low": 0.2, "high": 0.8}, 0.7), ("probe_w2s", ours.options, 0.4)]
    assert found[1][0] == ours
    assert read_shared(folder, seen) == []  # each file is read once
    assert read_shared(tmp_path / "missing", set()) == []
    assert genome_from_finding("## Config\n\n```json\n[not json\n```") is None


def test_finding_text_cites_the_submission_and_fits_the_tool(tmp_path: Path) -> None:
    genome = Genome("vanilla_w2s", {"strong.loss": "soft_xent"}, "consistency_fix")
    args = finding_text(genome, "sentiment", SUBMISSION, {"value": 0.8, "label_accuracy": 0.8}, None, 7)
    assert args["submission_ids"] == [12] and args["method_family"] == "evolutionary"
    assert args["finding_type"] == "result" and args["config"] == genome.to_dict()
    assert len(args["title"]) <= 200 and len(args["summary"]) <= 2000 and len(args["idea"]) <= 80
    assert "PGR 0.610" in args["summary"] and "7 candidate" in args["body"]
    assert Genome.from_dict(args["config"]) == genome


def test_snapshot_is_a_small_tar_gz_of_the_config(tmp_path: Path) -> None:
    genome = Genome("ue_zeroshot", {"temperature": 0.1})
    start = {"dataset": "sentiment", "recipe": "idea", "idea": "ue_zeroshot", "config": genome.config(0)}
    raw = base64.b64decode(snapshot_archive(genome, "sentiment", 0, start, "# notebook\n", {"submission": 12}))
    assert len(raw) < 4096
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"evolve/genome.json", "evolve/start_training.json", "evolve/README.md",
                                "evolve/NOTEBOOK.md"}
        assert all(m.isfile() and m.mode == 0o644 for m in members.values())
        assert json.loads(tar.extractfile("evolve/genome.json").read()) == genome.to_dict()  # type: ignore[union-attr]
        assert json.loads(tar.extractfile("evolve/start_training.json").read()) == start  # type: ignore[union-attr]
