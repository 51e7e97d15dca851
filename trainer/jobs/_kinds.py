"""Job kinds: the functions a sandboxed job may run, registered by name with `@register_job_kind("name")`.

Only a registered function runs: `python -I -m trainer.jobs` looks the payload's target up here and refuses
anything else, whatever module it names. Hosts refer to a kind by name (`job_kind("sft").target`), never by
spelling a module path. The target stays `trainer.jobs.<module>:<function>` on the wire, what the jobs queue
stores, so a job queued before this registry existed still runs; it is derived from the registered function.

Adding a kind is adding a decorated function to a public module of this package (discovered on first read).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainer._registry import Registry, UnknownNameError
from trainer.jobs._context import JobContext

JobFn = Callable[[dict[str, Any], JobContext], dict[str, Any]]
"""(spec, ctx) -> result: a JSON-able dict; paths in it relative to the workspace."""

PACKAGE = "trainer.jobs"


@dataclass(frozen=True)
class JobKind:
    name: str
    run: JobFn
    summary: str
    """The first line of the function's docstring."""

    @property
    def target(self) -> str:
        """The wire spelling the jobs queue stores and the payload carries."""
        return f"{self.run.__module__}:{self.run.__name__}"


JOB_KINDS: Registry[JobKind] = Registry("job kind", package=PACKAGE)


def register_job_kind(name: str) -> Callable[[JobFn], JobFn]:
    """Decorator: `@register_job_kind("sleep")` on a job function in a public module of `trainer.jobs`."""

    def wrap(fn: JobFn) -> JobFn:
        module = getattr(fn, "__module__", "")
        if not module.startswith(f"{PACKAGE}.") or module.count(".") != 2 or module.rpartition(".")[2][:1] == "_":
            # Only code in this package's public modules is bound read-only into every sandbox and discovered.
            raise ValueError(f"job kind {name!r}: {module}.{fn.__name__} must live in a public module of {PACKAGE}")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        JOB_KINDS.add(name, JobKind(name, fn, summary))
        return fn

    return wrap


def job_kind(name_or_target: str) -> JobKind:
    """The registered kind called `name_or_target`, or whose wire target it is; anything else is refused with the
    registered names. A target imports only the public `trainer.jobs` module it names (a `sleep` job does not pay
    for torch), and then must be a function registered there."""
    if not isinstance(name_or_target, str) or ":" not in name_or_target:
        return JOB_KINDS.get(name_or_target)
    module = name_or_target.partition(":")[0]
    tail = module.removeprefix(f"{PACKAGE}.")
    if module.startswith(f"{PACKAGE}.") and tail.isidentifier() and not tail.startswith("_"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise  # our module is there but something it imports is not: that is the error to show
    for kind in JOB_KINDS.loaded().values():
        if kind.target == name_or_target:
            return kind
    raise UnknownNameError(f"job target {name_or_target!r} is not a registered job kind; registered: "
                           + ", ".join(f"{k.name} ({k.target})" for k in JOB_KINDS.as_dict().values()))
