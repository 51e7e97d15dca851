from transformers import AutoTokenizer

from trainer.classifier import encode_pair, encode_prompt, label_token_ids, render_prompt
from trainer.data import BinaryRow, PreferenceRow, TaskType
from trainer.models import resolve_model


def _tok(name: str):
    return AutoTokenizer.from_pretrained(resolve_model(name).path)


def test_reference_templates() -> None:
    pref = PreferenceRow(prompt="p", first="a", second="b")
    assert render_prompt(pref) == "Question: p\nAnswer A: a\nAnswer B: b\nLabel:"
    assert render_prompt(BinaryRow(question="q", choice="c")) == "Question: q\nAnswer: c\nLabel:"


def test_truncation_keeps_options_and_label_suffix() -> None:
    tok = _tok("smollm2-135m")
    row = PreferenceRow(prompt="word " * 500, first="FIRST ANSWER", second="SECOND ANSWER")
    ids = encode_prompt(row, tok, max_length=40)
    text = tok.decode(ids)
    assert len(ids) <= 40
    assert "Answer A: FIRST ANSWER" in text and "Answer B: SECOND ANSWER" in text
    assert text.endswith("\nLabel:") and " ... " in text
    # the options themselves overflow: both keep their header and a cut middle
    long_opts = PreferenceRow(prompt="p", first="x " * 200, second="y " * 200)
    text = tok.decode(encode_prompt(long_opts, tok, max_length=60))
    assert "Answer A:" in text and "Answer B:" in text and text.endswith("Label:")


def test_label_tokens_single() -> None:
    tok = _tok("smollm2-135m")
    assert label_token_ids(tok, TaskType.PREFERENCE) == (tok(" A", add_special_tokens=False)["input_ids"][0],
                                                          tok(" B", add_special_tokens=False)["input_ids"][0])
    assert len(set(label_token_ids(tok, TaskType.BINARY))) == 2


def test_encoder_sides_question_cut_choice_kept() -> None:
    tok = _tok("minilm-l6")
    enc = encode_pair(BinaryRow(question="long " * 400, choice="positive"), tok, max_length=32)
    assert len(enc["input_ids"]) == 32
    assert tok.decode(enc["pair_input_ids"], skip_special_tokens=True) == "positive"
    pref = encode_pair(PreferenceRow(prompt="p " * 400, first="aaa", second="bbb"), tok, max_length=32)
    assert len(pref["input_ids"]) == len(pref["pair_input_ids"]) == 32
