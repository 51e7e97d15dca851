"""The generic name registry every pluggable part uses (ideas, losses, probes, models, testbeds, sandbox and
compute backends, job kinds, recipes): `Registry[T]`, its errors, and `construct` for dataclass entries."""

from trainer._registry import DuplicateNameError, Registry, UnknownNameError, construct

__all__ = ["DuplicateNameError", "Registry", "UnknownNameError", "construct"]
