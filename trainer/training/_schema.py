"""Config dataclasses as data: the one dict form, overrides by field path, errors that name the path, and a
description of every field generated from the class itself (its annotations, defaults, bounds and docstrings).

Used for `TrainConfig` and for every idea's config: the CLI's `--set`, the train server's `config` and the jobs'
JSON specs all go through `config_to_dict` / `config_from_dict` / `apply_overrides`, so which fields are tuples,
which values are allowed and how a refusal reads are known once, in the config classes.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
import textwrap
import typing
from functools import cache
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from pydantic import BaseModel, TypeAdapter, ValidationError

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value was refused. Each problem names its field path (`strong.epochs`) and what was expected."""

    def __init__(self, problems: list[tuple[str, str]] | str, message: str | None = None) -> None:
        self.problems = [(problems, message or "")] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(f"{path}: {msg}" if path else msg for path, msg in self.problems))

    @property
    def path(self) -> str:
        return self.problems[0][0]

    def within(self, prefix: str) -> ConfigError:
        """The same problems, their paths under `prefix` (a nested config, or the tool argument holding it)."""
        return ConfigError([(_join(prefix, path), msg) for path, msg in self.problems])


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


@cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


@cache
def _schema(cls: type) -> dict[str, Any]:
    return _adapter(cls).json_schema(mode="validation")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as JSON data (tuples as lists, nested configs as dicts): what specs, logs and answers store."""
    return _adapter(type(config)).dump_python(config, mode="json")


def config_from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build `cls` from JSON data, strictly: numbers must be numbers (`"1"` for an int is refused, not guessed),
    lists become tuples where the field is a tuple, unknown names are refused with the valid ones listed."""
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected an object of {cls.__name__} fields, got {_shown(data)}")
    _refuse_unknown(cls, data, path)
    try:
        text = json.dumps(data, default=_jsonable, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, f"expected JSON data ({exc})") from None
    try:
        return _adapter(cls).validate_json(text, strict=True)
    except ValidationError as exc:
        raise validation_problems(exc, cls, path) from None


def apply_overrides(config: T, overrides: dict[str, Any], path: str = "") -> T:
    """A validated copy of `config` with overrides applied. `a.b` keys reach into nested configs, and so does a
    nested config given as a dict of its fields (`{"strong": {"tier": "head"}}`, what JSON clients send)."""
    data = config_to_dict(config)
    for key, value in overrides.items():
        target, cls, parts = data, type(config), key.split(".")
        for depth, part in enumerate(parts[:-1]):
            nested = _nested_config(cls, part)
            if nested is None:
                where = _join(path, *parts[:depth + 1])
                raise ConfigError(where, f"is not a nested config; {cls.__name__} fields: {_names(cls)}")
            target, cls = target[part], nested
        last = parts[-1]
        if last not in _field_names(cls):
            raise ConfigError(_join(path, key), f"unknown field; {cls.__name__} fields: {_names(cls)}")
        if isinstance(value, dict) and _nested_config(cls, last) is not None:
            _refuse_unknown(_nested_config(cls, last), value, _join(path, key))  # type: ignore[arg-type]
            target[last] = {**target[last], **value}
        else:
            target[last] = value
    return config_from_dict(type(config), data, path)


def check_fields(config: Any) -> None:
    """Check each field of a plain config dataclass built directly (not through `config_from_dict`) against its
    annotation and bounds, strictly; refused like `config_from_dict` refuses, naming the field. pydantic dataclasses
    check themselves; this is for the ideas' configs, which subclass a plain dataclass."""
    cls = type(config)
    problems: list[tuple[str, str]] = []
    for name, adapter in _field_adapters(cls).items():
        value = getattr(config, name)
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError:
            problems.append((name, f"expected {expected_of(_property(cls, [name])) or 'a valid value'}, got {_shown(value)}"))
    if problems:
        raise ConfigError(problems)


@cache
def _field_adapters(cls: type) -> dict[str, TypeAdapter[Any]]:
    hints = get_type_hints(cls, include_extras=True)
    return {f.name: TypeAdapter(hints[f.name]) for f in dataclasses.fields(cls)}


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _names(cls: type) -> str:
    return ", ".join(_field_names(cls))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _nested_config(cls: type, name: str) -> type | None:
    hint = _hints(cls).get(name)
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _refuse_unknown(cls: type, data: dict[str, Any], path: str) -> None:
    for key, value in data.items():
        if key not in _field_names(cls):
            raise ConfigError(_join(path, str(key)), f"unknown field; {cls.__name__} fields: {_names(cls)}")
        nested = _nested_config(cls, key)
        if nested is not None and isinstance(value, dict):
            _refuse_unknown(nested, value, _join(path, key))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validation_problems(exc: ValidationError, cls: type, path: str = "") -> ConfigError:
    """pydantic's errors as one ConfigError: each names the field path, what the field takes, and the value sent."""
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        cause = (error.get("ctx") or {}).get("error")
        loc = [str(p) for p in error["loc"] if not isinstance(p, int)]
        if isinstance(cause, ConfigError):  # raised by a config's own cross-field checks, already worded
            problems.extend((_join(path, *loc, sub), msg) for sub, msg in cause.problems)
        elif error["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            names = f"; {cls.__name__} fields: {_names(cls)}" if len(loc) == 1 else ""
            problems.append((_join(path, *loc), f"unknown field{names}"))
        elif error["type"] == "value_error" and cause is not None:
            problems.append((_join(path, *loc), str(cause)))
        else:
            expected = expected_of(_property(cls, loc)) or error["msg"].lower()
            problems.append((_join(path, *loc), f"expected {expected}, got {_shown(error['input'])}"))
    # One problem per field: a bad item of a list also fails the list's own length check (same path, same words).
    first = {p: m for p, m in reversed(problems)}
    return ConfigError([(p, first[p]) for p in dict.fromkeys(p for p, _ in problems)])


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), schema)
    return schema


def _property(cls: type, loc: list[str]) -> dict[str, Any]:
    root = _schema(cls)
    node = _resolve(root, root)
    for part in loc:
        props = node.get("properties", {})
        if part not in props:
            break
        node = _resolve(props[part], root)
    return node


def expected_of(schema: dict[str, Any]) -> str:
    """A field's JSON schema as words: `an integer in [1, 4096]`, `one of 'linear', 'cosine'`, `null or ...`."""
    if "anyOf" in schema:
        options = [expected_of(s) for s in schema["anyOf"]]
        return " or ".join(o for o in options if o)
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return ("an integer" if kind == "integer" else "a number") + _range(schema)
    if kind == "array":
        items = schema.get("prefixItems") or [schema.get("items", {})]
        inner = " and ".join(sorted({expected_of(i) or "any value" for i in items}))
        if "prefixItems" in schema:
            return f"a list of {len(schema['prefixItems'])} ({inner} each)"
        low, high = schema.get("minItems"), schema.get("maxItems")
        size = f" of {low} to {high} items" if low is not None and high is not None else ""
        return f"a list{size} ({inner} each)"
    if kind == "string" and "pattern" in schema:
        return f"a string matching {schema['pattern']}"
    return {"boolean": "true or false", "string": "a string", "object": "an object", "null": "null"}.get(kind, "")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


def _range(schema: dict[str, Any]) -> str:
    """` in [1, 4096]`, ` in [0, 1)`, ` >= 1`, ` < 1` or nothing, from JSON schema bounds."""
    low, high = schema.get("minimum"), schema.get("maximum")
    low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    lower = (("[", low) if low is not None else ("(", low_x)) if low is not None or low_x is not None else None
    upper = (("]", high) if high is not None else (")", high_x)) if high is not None or high_x is not None else None
    if lower and upper:
        return f" in {lower[0]}{_number(lower[1])}, {_number(upper[1])}{upper[0]}"
    if lower:
        return f" {'>=' if lower[0] == '[' else '>'} {_number(lower[1])}"
    if upper:
        return f" {'<=' if upper[0] == ']' else '<'} {_number(upper[1])}"
    return ""


# --- description ------------------------------------------------------------------------------------------------
class FieldDoc(BaseModel):
    """One config field as its class declares it."""

    name: str
    type: str
    """The annotation, e.g. `int | None`, `Literal['linear', 'cosine', 'constant']`."""
    default: Any
    """The default as JSON data."""
    doc: str
    """The docstring written under the field."""
    expected: str
    """Allowed values in words (`an integer in [1, 4096]`); what a refusal says."""
    minimum: float | None = None
    maximum: float | None = None
    choices: list[Any] | None = None
    """The closed set of values, where there is one."""


def describe_fields(cls: type, skip: typing.Collection[str] = ()) -> list[FieldDoc]:
    """Every field of a config dataclass, generated from the class (annotations, defaults, bounds, docstrings)."""
    defaults = config_to_dict(cls())
    docs = attribute_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        prop = _property(cls, [f.name])
        branches = [_resolve(b, _schema(cls)) for b in prop.get("anyOf", [prop])]
        numeric = next((b for b in branches if b.get("type") in ("integer", "number")), {})
        choices = next((b["enum"] for b in branches if "enum" in b), None)
        out.append(FieldDoc(name=f.name, type=type_name(_hints(cls)[f.name]), default=defaults[f.name],
                            doc=docs.get(f.name, ""), expected=expected_of(prop) or "an object",
                            minimum=numeric.get("minimum"), maximum=numeric.get("maximum"), choices=choices))
    return out


def type_name(hint: Any) -> str:
    """An annotation as a reader writes it (`tuple[str, ...] | None`), bounds and metadata left out."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint).replace("typing.", ""))


@cache
def attribute_docs(cls: type) -> dict[str, str]:
    """Docstrings written under fields (`x: int = 1` then `\"\"\"...\"\"\"`), own class first, then its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs
