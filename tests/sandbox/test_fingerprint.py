from __future__ import annotations

import json

from sandbox.fingerprint import build, digest


def test_fingerprint_carries_no_clear_ids_texts_or_labels(fake_home) -> None:
    p = fake_home.paths
    fp = build(p.label_store_dir, p.data_dir)
    text = json.dumps({k: v for k, v in fp.items() if k != "vectors"})  # split names ("train_unlabel") are public
    assert fp["vectors"] == {"toy/test": len(fake_home.hidden), "toy/train_unlabel": 0}
    assert len(fp["positions"]) == len(fake_home.hidden)
    assert not any(row_id in text.split('"') for row_id in fake_home.hidden)
    assert "Review number" not in text and "label" not in text
    assert len(fp["pairs"]) == len(fake_home.hidden)
    some_id, label = next(iter(fake_home.hidden.items()))
    assert digest(fp["salt"], "id", some_id, str(label)) in fp["pairs"]
    assert digest(fp["salt"], "id", some_id, str(1 - label)) not in fp["pairs"]
    assert len(fp["segments"]) == len(fake_home.texts)  # the snippet inside each templated question
