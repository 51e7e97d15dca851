from pathlib import Path

import pytest

from prompts import directions, first_prompt, load_directions, method_families, resume_prompt, system_prompt


def test_method_families_are_the_eleven_of_the_write_up() -> None:
    families = method_families()
    assert len(families) == 11 and families[0] == "self-training" and families[-1] == "other"
    assert len(set(families)) == 11


def test_directions_have_unique_names_and_text() -> None:
    found = directions()
    assert len(found) >= 9 and len({d.name for d in found}) == len(found)
    assert all(len(d.text) > 40 for d in found)


def test_system_prompt_fills_every_placeholder() -> None:
    text = system_prompt("/workspace", "/data", "Try distillation.")
    assert "/workspace/shared_findings" in text and "/data/<dataset>/{train_label" in text
    assert "Try distillation." in text and "{" + "workspace}" not in text


def test_system_prompt_describes_the_tools_as_they_are() -> None:
    text = system_prompt("/w2s/workspace", "/w2s/data", "x")
    for word in ("start_training", "wait_job", '"tier": "head"', "preset", "recipe", "submit_predictions",
                 "post_finding", "upload_snapshot", "NOTEBOOK.md"):
        assert word in text, word


def test_first_and_resume_prompts() -> None:
    assert "sentiment" in first_prompt("sentiment") and "NOTEBOOK.md" in first_prompt("sentiment")
    resumed = resume_prompt("sentiment", "killed by SIGKILL {x}")
    assert "NOTEBOOK.md" in resumed and "killed by SIGKILL (x)" in resumed and "sentiment" in resumed


def test_directions_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "d.yaml"
    good.write_text("- name: a\n  text: try a\n- name: b\n  text: try b\n")
    assert [d.name for d in load_directions(good)] == ["a", "b"]
    assert load_directions(None) == directions()
    bad = tmp_path / "bad.yaml"
    for content in ("just text", "- name: a\n", "[]", "- {name: 1, text: x}"):
        bad.write_text(content)
        with pytest.raises(ValueError, match="expected a non-empty YAML list"):
            load_directions(bad)
    with pytest.raises(ValueError, match="cannot read directions file"):
        load_directions(tmp_path / "missing.yaml")
