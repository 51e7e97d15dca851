"""The feature extractor refuses a max_length its model cannot encode when it is made, before any row is
tokenized or any features are cached under that max_length."""

from __future__ import annotations

import pytest

from trainer.classifier import MaxLengthError
from trainer.features._extract import Extractor


def test_a_max_length_past_the_models_positions_is_refused_up_front() -> None:
    with pytest.raises(MaxLengthError, match="max_length 131072 is past what minilm-l6 can encode: 512 tokens"):
        Extractor("minilm-l6", 131072)
    assert Extractor("minilm-l6", 512).max_length == 512
