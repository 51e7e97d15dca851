"""One registry for everything chosen by name: ideas, losses, probes, models, testbeds, sandbox and compute
backends, job kinds, recipes.

An entry registers itself where it is defined (`@LOSSES.register("xent")`, or `LOSSES.add(name, entry)`), so adding
one is adding a file. A registry given a `package` finds its entries by importing that package's public modules
(names not starting with `_`) the first time it is read; Python's module cache makes that once per process. Reading
an unknown name answers every valid one.

Standard library only: sandbox/ and the MCP servers import this, and importing it must cost nothing (no torch,
no network, no CUDA).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields, is_dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
E = TypeVar("E")


class UnknownNameError(KeyError, ValueError):
    """A name no entry has. A KeyError and a ValueError: the registries this replaced raised one or the other, and
    callers catch either."""

    def __str__(self) -> str:  # KeyError's own __str__ would show the message in quotes
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(ValueError):
    """A second, different entry under a name already taken."""


class Registry(Generic[T]):
    """Entries of one kind by name.

    `kind` names an entry in messages ("loss", "sandbox backend"). `package`, when given, is the dotted name of a
    package holding one entry per public module; those modules are imported on first read.
    """

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._entries: dict[str, T] = {}
        self._discovered = package is None

    def register(self, name: str) -> Callable[[E], E]:
        """Decorator: `@registry.register("name")` above a class or function registers it and returns it as is."""

        def wrap(entry: E) -> E:
            self.add(name, entry)  # type: ignore[arg-type]  (E is the decorated object; T what the registry holds)
            return entry

        return wrap

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; the same (or an equal) entry again is a no-op, as when a module is imported
        twice; another one under a taken name is an error."""
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty string without surrounding spaces, got {name!r}")
        # No lock: entries register while their module is imported, possibly under another thread's import lock;
        # a lock here could deadlock against it, and a dict store is atomic.
        current = self._entries.get(name)
        if current is not None and current is not entry and current != entry:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered{_origin(current)}; "
                                     f"pick another name for the new one{_origin(entry)}")
        self._entries[name] = entry
        return entry

    def discover(self) -> None:
        """Import every public module of `package` (once: later calls return at once)."""
        if self._discovered:
            return
        assert self.package is not None
        package = importlib.import_module(self.package)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        # Set only after every import worked: a module that failed (a missing extra) is retried on the next read.
        self._discovered = True

    def get(self, name: str) -> T:
        """The entry called `name`; an unknown name raises UnknownNameError listing the valid ones."""
        self.discover()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.unknown(name)) from None

    def unknown(self, name: object) -> str:
        """The message for a name that is not registered (for callers that raise their own error type)."""
        return f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none registered'}"

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._entries)

    def as_dict(self) -> dict[str, T]:
        """A copy, name -> entry, in name order."""
        self.discover()
        return {name: self._entries[name] for name in sorted(self._entries)}

    def loaded(self) -> dict[str, T]:
        """The entries registered so far, without discovering the rest: for a caller that imported the one module
        it needs and should not pay for importing the others."""
        return dict(self._entries)

    def view(self) -> Mapping[str, T]:
        """A read-only live mapping of the entries, for code that reads a registry as a dict (`.get(name)` answers
        None there). It does not discover: use it for registries without a package."""
        return MappingProxyType(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.discover()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, package={self.package!r}, entries={sorted(self._entries)})"


def construct(registry: Registry[Any], name: str, **params: Any) -> Any:
    """Build the dataclass registered as `name` from keyword parameters; names and parameters that do not exist
    are refused with the ones that do (losses and probes are such dataclasses)."""
    cls = registry.get(name)
    if not is_dataclass(cls):
        raise TypeError(f"{registry.kind} {name!r} is not a dataclass; it cannot be built from parameters")
    known = {f.name for f in fields(cls) if f.init}
    unknown = set(params) - known
    if unknown:
        raise ValueError(f"{registry.kind} {name!r} has no parameter(s) {sorted(unknown)}; "
                         f"it takes {sorted(known) or 'none'}")
    return cls(**params)


def _origin(entry: object) -> str:
    # Where a class or function was defined tells which file to rename; an instance (a spec) says nothing useful.
    for obj in (entry, getattr(entry, "run", None), getattr(entry, "build", None)):
        module, label = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if module and label:
            return f" (in {module})"
    return ""
