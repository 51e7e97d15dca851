"""The fast student tier: cached frozen features of the strong model and a head trained on them (`tier="head"`)."""

from trainer.features._head import HeadClassifier, load_head_checkpoint, train_head
from trainer.features._store import (
    FEATURE_VERSION,
    FeatureStore,
    RowFeatures,
    TextCache,
    cache_dataset_features,
    cache_roots,
    feature_store,
    model_slug,
    text_cache,
    write_root,
)

__all__ = [
    "FEATURE_VERSION",
    "FeatureStore",
    "HeadClassifier",
    "RowFeatures",
    "TextCache",
    "cache_dataset_features",
    "cache_roots",
    "feature_store",
    "load_head_checkpoint",
    "model_slug",
    "text_cache",
    "train_head",
    "write_root",
]
