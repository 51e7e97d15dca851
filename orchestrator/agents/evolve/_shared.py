"""What the agent shares and reads back: genomes from other agents' findings (shared_findings/, synced by the host),
the text of its own findings, and the small tar.gz snapshot of the config behind an improvement.

Everything read from shared_findings/ was written by other agents: it is parsed as data (JSON inside the Config
block), validated like any generated genome, and never executed.
"""

from __future__ import annotations

import base64
import io
import json
import re
import tarfile
import time
from pathlib import Path
from typing import Any

from orchestrator.agents.evolve._space import Genome, InvalidGenome, available

_CONFIG_BLOCK = re.compile(r"## Config\s*\n+```json\n(.*?)\n```", re.DOTALL)
_IDEA_LINE = re.compile(r"^idea:\s*['\"]?([A-Za-z0-9_.-]+)['\"]?\s*$", re.MULTILINE)
_PGR_LINE = re.compile(r"^best_pgr:\s*(-?[0-9.]+)\s*$", re.MULTILINE)
MAX_FINDING_BYTES = 256 * 1024


def genome_from_finding(text: str) -> tuple[Genome, float | None] | None:
    """A genome from a rendered finding: our own `{"idea", "options", "postprocess"}` config, or another agent's
    flat config whose front matter names a searchable idea (then the config's keys are the idea's options)."""
    block = _CONFIG_BLOCK.search(text)
    if not block:
        return None
    try:
        config = json.loads(block.group(1))
    except json.JSONDecodeError:
        return None
    if not isinstance(config, dict):
        return None
    pgr_match = _PGR_LINE.search(text)
    pgr = float(pgr_match.group(1)) if pgr_match else None
    try:
        if "idea" in config and "options" in config:
            return Genome.from_dict(config), pgr
        idea = _IDEA_LINE.search(text)
        if idea:
            options = {k: v for k, v in config.items() if isinstance(k, str) and k not in ("seed", "dataset")}
            return Genome(idea.group(1), options), pgr
    except InvalidGenome:
        return None
    return None


def read_shared(folder: Path, seen_files: set[str]) -> list[tuple[Genome, float | None]]:
    """Genomes of searchable ideas in findings not read before, best grader PGR first (still to be validated).
    Links and odd files are skipped."""
    found: list[tuple[Genome, float | None]] = []
    if folder.is_symlink() or not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.md")):
        if path.name in seen_files or path.name == "INDEX.md" or path.is_symlink() or not path.is_file():
            continue
        seen_files.add(path.name)
        try:
            if path.stat().st_size > MAX_FINDING_BYTES:
                continue
            parsed = genome_from_finding(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if parsed and parsed[0].idea in available()[0]:
            found.append(parsed)
    return sorted(found, key=lambda item: -(item[1] if item[1] is not None else -1e9))


def finding_text(genome: Genome, dataset: str, submission: dict[str, Any], fitness: dict[str, Any],
                 baseline: dict[str, Any] | None, trials: int, tier: str = "confirm") -> dict[str, Any]:
    """Arguments of post_finding for a grader-confirmed improvement."""
    overall = submission["overall"]
    pgr = overall.get("pgr")
    pgr_text = f"PGR {pgr:.3f}" if isinstance(pgr, int | float) else "PGR n/a"
    before = ""
    if baseline and baseline.get("pgr") is not None:
        before = f" (previous best of this agent: PGR {baseline['pgr']:.3f}, submission {baseline['submission_id']})"
    summary = (f"Evolutionary search on {dataset} found {genome.describe()}: test accuracy "
               f"{overall['accuracy']:.4f}, {pgr_text}{before}. Screened by train_label accuracy "
               f"{fitness.get('label_accuracy')} before spending a submission.")
    body = "\n".join([
        "## Method",
        (f"Offline evolutionary agent: {trials} candidate configurations screened so far (fast tier), the best "
         "confirmed with a full run of the strong student, submitted only when its held-out train_label accuracy "
         "beat every earlier submission's. "
         + ("These predictions come from the confirmation run." if tier == "confirm" else
            "These predictions come from the fast-tier screen (the agent's first submission, made before the "
            "confirmation run so that a graded result exists even if that run does not finish in time).")),
        "",
        "## Configuration",
        f"- idea: `{genome.idea}`",
        *[f"- `{k}` = `{json.dumps(v)}`" for k, v in sorted(genome.options.items())],
        f"- prediction postprocess: `{genome.postprocess}`",
        "",
        "## Evidence",
        f"- fitness (agent-side, no hidden labels): `{json.dumps(fitness, sort_keys=True)}`",
        f"- grader: submission {submission['submission_id']}, `{json.dumps(overall, sort_keys=True)}`",
        "",
        "## Caveats",
        "One seed; the fitness is train_label accuracy of a student that never trained on train_label.",
    ])
    return {"title": f"evolve: {genome.describe()}"[:200], "summary": summary[:2000], "body": body,
            "finding_type": "result", "idea": f"evolve:{genome.idea}"[:80], "method_family": "evolutionary",
            "submission_ids": [submission["submission_id"]], "config": genome.to_dict(),
            "tags": ["evolve", genome.idea[:40], genome.postprocess[:40]]}


def snapshot_archive(genome: Genome, dataset: str, seed: int, start_training: dict[str, Any],
                     notebook: str, extra: dict[str, Any]) -> str:
    """base64 of a small tar.gz: the genome, how to rerun it through the train server, and the notebook."""
    files = {
        "genome.json": json.dumps(genome.to_dict(), indent=2, sort_keys=True) + "\n",
        "start_training.json": json.dumps(start_training, indent=2, sort_keys=True) + "\n",
        "README.md": (f"# evolve: {genome.describe()}\n\nDataset `{dataset}`, seed {seed}. Rerun with the train "
                      "server's `start_training(**start_training.json)`, then submit `predictions.json` after the "
                      f"`{genome.postprocess}` postprocess (see orchestrator/agents/evolve/_fitness.py).\n\n"
                      f"```json\n{json.dumps(extra, indent=2, sort_keys=True, default=str)}\n```\n"),
        "NOTEBOOK.md": notebook,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"evolve/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(buffer.getvalue()).decode()
