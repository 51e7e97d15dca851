import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainer.registry import DuplicateNameError, Registry, UnknownNameError, construct


def test_register_get_and_names() -> None:
    shapes: Registry[type] = Registry("shape")

    @shapes.register("square")
    class Square:
        pass

    shapes.add("circle", dict)
    assert shapes.get("square") is Square and shapes["circle"] is dict
    assert shapes.names() == ["circle", "square"] and list(shapes) == ["circle", "square"]
    assert "square" in shapes and "hexagon" not in shapes and len(shapes) == 2
    assert shapes.as_dict() == {"circle": dict, "square": Square}
    view = shapes.view()
    shapes.add("triangle", list)
    assert view["triangle"] is list and view.get("hexagon") is None  # live, and a plain mapping's get
    with pytest.raises(TypeError):
        view["hexagon"] = tuple  # type: ignore[index]


def test_duplicate_name_is_refused_and_the_same_entry_is_a_no_op() -> None:
    things: Registry[object] = Registry("thing")
    entry = object()
    things.add("a", entry)
    things.add("a", entry)  # a module imported twice registers the same object again
    with pytest.raises(DuplicateNameError, match="thing 'a' is already registered"):
        things.add("a", object())
    assert things.get("a") is entry


@pytest.mark.parametrize("bad", ["", "  ", " padded", 3])
def test_bad_names_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        Registry("thing").add(bad, 1)  # type: ignore[arg-type]


def test_unknown_name_lists_the_valid_ones_and_is_both_key_and_value_error() -> None:
    things: Registry[int] = Registry("widget")
    things.add("b", 2)
    things.add("a", 1)
    with pytest.raises(UnknownNameError) as caught:
        things.get("zzz")
    assert str(caught.value) == "unknown widget 'zzz'; available: a, b"
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    with pytest.raises(UnknownNameError, match="available: a, b"):
        things.get(["unhashable"])  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="none registered"):
        Registry("gadget").get("x")


def _write_package(root: Path, name: str) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"from trainer.registry import Registry\nREG = Registry('entry', {name!r})\n"
                                     "IMPORTS = []\n")
    for entry in ("alpha", "beta"):
        (pkg / f"{entry}.py").write_text(f"from {name} import IMPORTS, REG\nIMPORTS.append({entry!r})\n"
                                         f"REG.add({entry!r}, {entry!r})\n")
    (pkg / "_private.py").write_text("raise RuntimeError('private modules are not entries')\n")


def test_discovery_imports_each_public_module_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_package(tmp_path, "w2s_registry_case_pkg")
    monkeypatch.syspath_prepend(str(tmp_path))
    import w2s_registry_case_pkg as pkg  # type: ignore[import-not-found]

    try:
        assert pkg.IMPORTS == [] and pkg.REG.loaded() == {}  # nothing imported before the first read
        import w2s_registry_case_pkg.beta  # type: ignore[import-not-found]

        assert pkg.REG.loaded() == {"beta": "beta"}  # what one import registered, without discovering the rest
        assert pkg.REG.names() == ["alpha", "beta"]
        assert pkg.REG.get("beta") == "beta" and "alpha" in pkg.REG and len(pkg.REG) == 2
        with pytest.raises(UnknownNameError, match="available: alpha, beta"):
            pkg.REG.get("gamma")
        assert sorted(pkg.IMPORTS) == ["alpha", "beta"]  # once each, across every read above
    finally:
        for name in [m for m in sys.modules if m.startswith("w2s_registry_case_pkg")]:
            del sys.modules[name]


def test_discovery_is_retried_after_a_failing_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_package(tmp_path, "w2s_registry_fail_pkg")
    broken = tmp_path / "w2s_registry_fail_pkg" / "gamma.py"
    broken.write_text("raise ImportError('needs an extra')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import w2s_registry_fail_pkg as pkg  # type: ignore[import-not-found]

    try:
        with pytest.raises(ImportError, match="needs an extra"):
            pkg.REG.names()
        broken.write_text("from w2s_registry_fail_pkg import REG\nREG.add('gamma', 'gamma')\n")
        assert pkg.REG.names() == ["alpha", "beta", "gamma"]
    finally:
        for name in [m for m in sys.modules if m.startswith("w2s_registry_fail_pkg")]:
            del sys.modules[name]


@dataclass
class _Scaled:
    factor: float = 1.0


def test_construct_builds_dataclasses_and_names_parameters() -> None:
    things: Registry[type] = Registry("scaler")
    things.add("scaled", _Scaled)
    things.add("plain", dict)
    assert construct(things, "scaled", factor=2.0) == _Scaled(2.0)
    with pytest.raises(ValueError, match=r"scaler 'scaled' has no parameter\(s\) \['size'\]; it takes \['factor'\]"):
        construct(things, "scaled", size=3)
    with pytest.raises(TypeError, match="not a dataclass"):
        construct(things, "plain")
    with pytest.raises(UnknownNameError, match="available: plain, scaled"):
        construct(things, "nope")


def test_importing_the_registry_loads_no_heavy_module() -> None:
    # sandbox/ and the MCP servers import it: it must not pull in torch, numpy or pydantic.
    code = ("import sys, trainer.registry; "
            "print(sorted(m for m in ('torch', 'numpy', 'pydantic', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
