import subprocess
import sys

from trainer.inference._vllm import _two_way, vllm_available


def test_vllm_not_imported_at_import_time() -> None:
    code = "import sys, trainer.inference, trainer.ideas, trainer.cli; print('vllm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_two_way_softmax_over_label_tokens() -> None:
    assert abs(_two_way({1: -1.0, 2: -1.0, 3: -0.1}, (1, 2)) - 0.5) < 1e-9
    assert _two_way({1: -3.0, 3: -0.1}, (1, 2)) < 0.5  # token 2 absent from the top-k: below every listed one


def test_available_is_false_without_vllm_or_cuda() -> None:
    assert vllm_available() in (False, True)
