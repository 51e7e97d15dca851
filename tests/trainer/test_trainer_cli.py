import json
from pathlib import Path

from typer.testing import CliRunner

from trainer.cli import app

runner = CliRunner()


def test_list_commands() -> None:
    for command, expected in (("ideas", "vanilla_w2s"), ("models", "mpnet-base"), ("losses", "logconf")):
        result = runner.invoke(app, [command])
        assert result.exit_code == 0 and expected in result.output


def test_run_writes_predictions_per_seed(w2s_home: Path, tmp_path: Path) -> None:
    from trainer_helpers import TINY

    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    result = runner.invoke(app, ["run", "--idea", "vanilla_w2s", "--dataset", "tiny", "--seeds", "0,1",
                                 "--out", str(tmp_path), "--quiet", *sets])
    assert result.exit_code == 0, result.output
    for seed in (0, 1):
        payload = json.loads((tmp_path / "vanilla_w2s" / "tiny" / f"seed{seed}" / "predictions.json").read_text())
        assert payload["split"] == "test" and len(payload["ids"]) == len(payload["predictions"]) == 16
