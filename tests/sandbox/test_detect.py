"""Label copies in the shapes an agent would hide them in: each must be found, weak labels and guesses must not."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from sandbox.fingerprint import build
from sandbox.leak_scan import Fingerprint, Scanner


@pytest.fixture
def fp(fake_home) -> Fingerprint:
    return Fingerprint.load(build(fake_home.paths.label_store_dir, fake_home.paths.data_dir))


@pytest.fixture
def order(fake_home) -> list[int]:
    """Hidden labels of the test split in the public file's row order."""
    rows = [json.loads(line) for line in (fake_home.paths.data_dir / "toy" / "test.jsonl").read_text().splitlines()]
    return [fake_home.hidden[r["id"]] for r in rows]


def _found(fp: Fingerprint, folder: Path) -> dict[str, set[str]]:
    scanner = Scanner(fp)
    scanner.scan([str(folder)])
    out: dict[str, set[str]] = {}
    for f in scanner.findings:
        out.setdefault(Path(f["path"]).name, set()).add(f["kind"])
    return out


def _plant(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "planted"
    folder.mkdir()
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def test_labels_in_text_code_and_markdown(fake_home, fp: Fingerprint, tmp_path: Path) -> None:
    hidden = fake_home.hidden
    files = {
        "labels.txt": "".join(f"{k} {'positive' if v else 'negative'}\n" for k, v in hidden.items()),
        "cache.py": "LABELS = {\n" + "".join(f"    {k!r}: {bool(v)},\n" for k, v in hidden.items()) + "}\n",
        "notes.md": "| id | y |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in hidden.items()),
        "inverted.yaml": "".join(f"{k}: {1 - v}\n" for k, v in hidden.items()),
    }
    found = _found(fp, _plant(tmp_path, files))
    assert {name for name, kinds in found.items() if "hidden_labels" in kinds} == set(files)


def test_labels_as_json_map_nested_json_and_base64(fake_home, fp: Fingerprint, tmp_path: Path) -> None:
    hidden = fake_home.hidden
    id_map = json.dumps({k: v for k, v in hidden.items()})
    nested = json.dumps({"run": {"results": [{"meta": {"row": {"id": k}}, "pred": {"label": v}}
                                             for k, v in hidden.items()]}}, indent=2)
    deep_map = json.dumps({"toy": {"splits": {"test": {k: {"y": v} for k, v in hidden.items()}}}}, indent=1)
    files = {
        "map.json": id_map, "nested.json": nested, "deep_map.json": deep_map,
        "blob.b64": base64.encodebytes(id_map.encode()).decode(),  # wrapped at 76 columns
        "blob.txt": "data = '" + base64.b64encode(gzip.compress(nested.encode())).decode() + "'\n",
    }
    found = _found(fp, _plant(tmp_path, files))
    assert {name for name, kinds in found.items() if "hidden_labels" in kinds} == set(files)


def test_bare_vector_in_file_order(fp: Fingerprint, order: list[int], tmp_path: Path) -> None:
    files = {
        "vec.json": json.dumps(order),
        "vec.txt": "\n".join(str(v) for v in order),
        "vec.py": "y = [" + ", ".join("True" if v else "False" for v in order) + "]\n",
        "bits.md": "answer: " + "".join(str(1 - v) for v in order) + "\n",  # inverted labels leak as much
    }
    found = _found(fp, _plant(tmp_path, files))
    assert {name for name, kinds in found.items() if "hidden_labels" in kinds} == set(files)


def test_weak_labels_guesses_and_public_data_are_not_leaks(fake_home, fp: Fingerprint, order: list[int],
                                                           tmp_path: Path) -> None:
    weak = [v if i % 4 else 1 - v for i, v in enumerate(order)]  # 75% agreement, like a weak model
    items = list(fake_home.hidden.items())
    files = {
        "weak_vec.json": json.dumps(weak),
        "weak_map.json": json.dumps({k: (v if i % 4 else 1 - v) for i, (k, v) in enumerate(items)}),
        "all_positive.txt": "".join(f"{k} 1\n" for k in fake_home.hidden),
        "ones.txt": " ".join("1" for _ in order),
        "test_copy.jsonl": (fake_home.paths.data_dir / "toy" / "test.jsonl").read_text(),
    }
    assert _found(fp, _plant(tmp_path, files)) == {}
    assert _found(fp, fake_home.paths.data_dir) == {}
