import pytest
import torch

from trainer.classifier import MaxLengthError, check_max_length, collate, encode_rows, load_classifier, position_limit
from trainer.data import BinaryRow, PreferenceRow

ROWS = [BinaryRow(question="Is this good? Great film.", choice="positive"),
        BinaryRow(question="Is this good? Awful, dull and long.", choice="negative")]


def test_encoder_head_starts_as_cosine_scorer() -> None:
    clf = load_classifier("minilm-l6", "binary", max_length=64)
    batch = collate(encode_rows(clf, ROWS), clf.pad_id())
    logits = clf(**batch)
    assert logits.shape == (2, 2)
    u, v = clf.sides(**batch)
    assert torch.allclose(logits[:, 1] - logits[:, 0], 2 * (u * v).sum(-1), atol=1e-5)
    pref = load_classifier("minilm-l6", "preference", max_length=64)
    rows = [PreferenceRow(prompt="p", first="a", second="b")]
    assert torch.allclose(torch.softmax(pref(**collate(encode_rows(pref, rows), pref.pad_id())), -1), torch.tensor(0.5))


def test_causal_two_token_head_matches_full_lm_logits() -> None:
    clf = load_classifier("smollm2-135m", "preference", max_length=64)
    rows = [PreferenceRow(prompt="Pick one.", first="yes", second="no"),
            PreferenceRow(prompt="Which reply is kinder to a friend who failed?", first="Too bad.", second="Sorry!")]
    batch = collate(encode_rows(clf, rows), clf.pad_id())
    with torch.no_grad():
        ours = clf(**batch)
        full = clf.backbone(**batch).logits
    last = batch["attention_mask"].sum(1) - 1
    expected = full[torch.arange(2), last][:, list(clf.answer_ids)]
    assert torch.allclose(ours, expected, atol=1e-4)


def test_position_limits_of_the_registry_models() -> None:
    assert position_limit("minilm-l6") == (512, "max_position_embeddings 512")
    # MPNet's position ids start after its padding index (1): 514 rows, 512 positions
    assert position_limit("mpnet-base") == (512, "max_position_embeddings 514, less 2 before the first position")
    assert position_limit("smollm2-135m") == (8192, "max_position_embeddings 8192")


def test_max_length_past_the_position_embeddings_is_refused_before_weights_load() -> None:
    with pytest.raises(MaxLengthError) as caught:
        load_classifier("minilm-l6", "binary", max_length=131072)
    assert str(caught.value) == ("max_length 131072 is past what minilm-l6 can encode: 512 tokens per input "
                                 "(max_position_embeddings 512 in its config); set max_length to at most 512")
    with pytest.raises(MaxLengthError, match="strong.max_length 513 .* at most 512"):
        check_max_length("mpnet-base", 513, "strong.max_length")
    check_max_length("mpnet-base", 512)  # the whole table is usable
