"""w2s-lab trainer: the weak-to-strong library used inside sandboxes and by the compute servers.

Importing this package is cheap: torch and transformers load only when a model is built.
"""

from trainer._paths import W2SPaths, paths

__all__ = ["W2SPaths", "paths"]
