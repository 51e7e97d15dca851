"""The grader attack benchmark at a tiny size (110 pairs, 20 probes, one seed): both tables complete and
consistent with themselves. Its figures at full size are in docs/grader.md."""

from __future__ import annotations

import re
from collections.abc import Callable

SETTINGS = ["defaults (budget 100)", "defaults, budget lifted", "no withholding, budget lifted",
            "no withholding, noise 0.005", "no withholding, step 0.02", "exact scores (no Ladder)"]
PROBES = 20


def _rows(out: str, header: str) -> list[list[str]]:
    table = out[out.index(header):].split("\n\n")[0].splitlines()[2:]  # past the header and the --- line
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table]


def _gain(cell: str) -> None:
    mean, low, high = map(float, re.fullmatch(r"([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\]", cell).groups())
    assert low <= mean <= high and low % (1000 / PROBES) == 0, cell  # labels are whole: multiples of the scale


def test_tiny_attack_bench_tables_are_complete_and_consistent(run_bench: Callable[..., str]) -> None:
    out = run_bench("grader_attack_bench.py", "--groups", "110", "--probes", str(PROBES), "--seeds", "1",
                    "--honest", "20")
    rows, public = map(int, re.search(r"test rows (\d+), public (\d+);", out).groups())
    assert rows == 220 and 0 < public < rows, out

    main = _rows(out, "| setting | public labels / 1,000 |")
    assert [r[0] for r in main] == SETTINGS, out
    for name, pub, priv, scored, improved, flagged, climb_flagged, *honest in main:
        for cell in (pub, priv):
            _gain(cell)
        assert 0 < float(scored) <= PROBES and 0 <= float(improved) <= float(scored), name
        assert 0 <= int(flagged) <= PROBES and 0 <= int(climb_flagged) <= PROBES, name
        assert all(0 <= float(h.rstrip("%")) <= 100 for h in honest), name
    # 20 probes never reach a budget of 100: lifting it cannot change what the climb saw
    assert main[0][1:7] == main[1][1:7], out

    variants = _rows(out, "| setting | climb |")
    assert [r[0] for r in variants] == ["defaults, budget lifted"] * 3 + ["no withholding, budget lifted"] * 3, out
    for _, _, pub, priv, improved, climb_flagged in variants:
        for cell in (pub, priv):
            _gain(cell)
        assert 0 <= float(improved) and 0 <= int(climb_flagged) <= PROBES * 2  # decoys are submissions too
