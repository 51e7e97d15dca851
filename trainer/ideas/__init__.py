"""Ideas: one file each (see `_registry` for the contract and `TEMPLATE.py` to start a new one)."""

from trainer.ideas._common import fit_and_predict
from trainer.ideas._registry import (
    IDEAS,
    IdeaConfig,
    IdeaContext,
    IdeaResult,
    IdeaSpec,
    default_strong_train,
    get_idea,
    idea_defaults,
    make_config,
    register_idea,
    registered_ideas,
)
from trainer.ideas._run import run_idea, write_predictions

__all__ = [
    "IDEAS",
    "IdeaConfig",
    "IdeaContext",
    "IdeaResult",
    "IdeaSpec",
    "default_strong_train",
    "fit_and_predict",
    "get_idea",
    "idea_defaults",
    "make_config",
    "register_idea",
    "registered_ideas",
    "run_idea",
    "write_predictions",
]
