from prompts import directions, method_families, system_prompt


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
