import json
from pathlib import Path

from typer.testing import CliRunner

from trainer.cli import app

runner = CliRunner()


def test_list_commands() -> None:
    for command, expected in (("ideas", "vanilla_w2s"), ("models", "mpnet-base"), ("losses", "logconf"),
                              ("presets", "reference-qwen")):
        result = runner.invoke(app, [command])
        assert result.exit_code == 0 and expected in result.output


def test_run_writes_predictions_per_seed(tiny_home: Path, tmp_path: Path) -> None:
    from tests.trainer.trainer_helpers import TINY

    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    result = runner.invoke(app, ["run", "--idea", "vanilla_w2s", "--dataset", "tiny", "--seeds", "0,1",
                                 "--out", str(tmp_path), "--quiet", *sets])
    assert result.exit_code == 0, result.output
    for seed in (0, 1):
        payload = json.loads((tmp_path / "vanilla_w2s" / "tiny" / f"seed{seed}" / "predictions.json").read_text())
        assert payload["split"] == "test" and len(payload["ids"]) == len(payload["predictions"]) == 16


def test_run_with_a_preset_and_a_set_that_wins(tiny_home: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--dataset", "tiny", "--out", str(tmp_path), "--quiet", "--preset", "smoke",
                                 "--set", "strong.max_steps=1"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "vanilla_w2s" / "tiny" / "seed0" / "metrics.json").read_text())["config"]
    assert config["weak"]["model"] == config["strong"]["model"] == "minilm-l6"
    assert config["weak"]["max_steps"] == 2 and config["strong"]["max_steps"] == 1


def test_run_takes_the_datasets_pinned_weak_side_under_its_sets(tiny_home: Path, tmp_path: Path) -> None:
    (tiny_home / "public" / "data" / "tiny" / "manifest.json").write_text(json.dumps({"weak": {"max_rows": 6}}))
    for extra, rows in (([], 6), (["--set", "weak.max_rows=8"], 8)):
        out = tmp_path / str(rows)
        result = runner.invoke(app, ["run", "--dataset", "tiny", "--out", str(out), "--quiet", "--preset", "smoke",
                                     *extra])
        assert result.exit_code == 0, result.output
        config = json.loads((out / "vanilla_w2s" / "tiny" / "seed0" / "metrics.json").read_text())["config"]
        assert config["weak"]["max_rows"] == rows


def test_unknown_preset_is_a_usage_error_naming_the_presets(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--preset", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown preset 'nope'" in result.output and "smoke" in result.output
    assert not any(tmp_path.iterdir())


def test_bad_set_values_are_usage_errors_before_anything_runs(tmp_path: Path) -> None:
    for sets, needle in ((["strong.lr=fast"], "strong.lr: expected a number in [0, 1], got 'fast'"),
                         (["strong.epochs=-1"], "strong.epochs: expected a number in [0.001, 100], got -1"),
                         (["strong.loss=xnet"], "strong.loss: unknown loss 'xnet'; available: entropy"),
                         (["weak.model=mpnet-bsae"], "weak.model: unknown model 'mpnet-bsae'"),
                         (["strong.learning_rate=1"], "strong.learning_rate: unknown field")):
        args = ["run", "--out", str(tmp_path), *[x for s in sets for x in ("--set", s)]]
        result = runner.invoke(app, args, env={"COLUMNS": "400"})  # one line: the message is not wrapped
        assert result.exit_code == 2, result.output
        assert needle in result.output, result.output
    assert not any(tmp_path.iterdir())


def test_weak_refuses_a_bad_set_value() -> None:
    result = runner.invoke(app, ["weak", "--set", "lr=fast"], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "lr: expected a number in [0, 1], got 'fast'" in result.output, result.output


def test_features_refuses_an_unknown_model_name() -> None:
    result = runner.invoke(app, ["features", "--model", "mpnet-bsae"], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "unknown model 'mpnet-bsae': not a registry name" in result.output, result.output
