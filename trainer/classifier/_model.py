"""One binary classifier over two kinds of Hugging Face models; both return logits of shape [batch, 2].

- `CausalLMClassifier`: the logits of the two answer tokens at the last prompt position. Only those two rows of the
  LM head are multiplied, never the whole vocabulary (a 49k-150k wide projection per position is most of the cost
  of a small LM's forward pass), and the 2-way softmax is what the reference's inference reads anyway.
- `EncoderClassifier`: mean-pooled last hidden state (what sentence-transformers models were trained for) and a
  linear head.

P(class 1) = softmax(logits)[:, 1]. LoRA (peft) wraps the backbone; the encoder's head stays a plain trainable
module so a checkpoint is "adapter + head".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer.classifier._templates import label_token_ids
from trainer.data import TaskType
from trainer.models import ModelKind, resolve_model

_CAUSAL_TYPES_HINT = ("llama", "qwen", "mistral", "gpt", "phi", "gemma", "smollm", "olmo", "falcon")
_POSITION_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length")
_PADDED_POSITIONS = frozenset({"roberta", "xlm-roberta", "mpnet", "camembert", "longformer", "roberta-prelayernorm",
                               "data2vec-text", "xmod", "ibert"})
"""Position ids of these start after the padding index: `pad_token_id + 1` of the table are never a position."""


@dataclass(frozen=True)
class ClassifierSpec:
    """Everything needed to rebuild a classifier from a checkpoint folder (saved as classifier.json)."""

    model: str
    """Registry name or HF id/path the backbone was loaded from."""
    kind: str
    """`encoder` or `causal_lm`."""
    task: str
    """`binary` or `preference`: picks the template and the answer tokens."""
    max_length: int
    lora: bool


def detect_kind(model: str) -> tuple[str, ModelKind]:
    """(local path or id, kind): registry models know their kind; others are read from their config."""
    resolved = resolve_model(model)
    if resolved.kind is not None:
        return resolved.path, resolved.kind
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(resolved.path)
    archs = " ".join(getattr(config, "architectures", None) or []).lower()
    causal = "causallm" in archs or config.model_type in _CAUSAL_TYPES_HINT or bool(getattr(config, "is_decoder", 0))
    return resolved.path, ModelKind.CAUSAL_LM if causal else ModelKind.ENCODER


class MaxLengthError(ValueError):
    """`max_length` is past what the model's position embeddings cover."""


def position_limit(model: str) -> tuple[int, str] | None:
    """(most tokens one input may have, where that comes from) read from the model's config; None when the config
    names no limit. Cheap: the config file only, no weights."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(resolve_model(model).path)
    config = getattr(config, "text_config", None) or config
    found = next(((name, getattr(config, name)) for name in _POSITION_FIELDS
                  if isinstance(getattr(config, name, None), int) and getattr(config, name) > 0), None)
    if found is None:
        return None
    name, table = found
    limit, source = table, f"{name} {table}"
    if getattr(config, "model_type", "") in _PADDED_POSITIONS:
        offset = int(getattr(config, "pad_token_id", None) or 0) + 1
        limit, source = table - offset, f"{source}, less {offset} before the first position"
    rope = getattr(config, "rope_scaling", None) or getattr(config, "rope_parameters", None)
    factor = rope.get("factor") if isinstance(rope, dict) else None
    if isinstance(factor, int | float) and factor > 1:  # RoPE stretched past the trained context (yarn, linear, ...)
        stretched = int(int(rope.get("original_max_position_embeddings") or table) * factor)
        if stretched > limit:
            limit, source = stretched, f"{source}, RoPE scaled by {factor:g}"
    return limit, source


def check_max_length(model: str, max_length: int, field: str = "max_length") -> None:
    """Refuse a `max_length` the model cannot encode, before any weights load: past the position table an input
    that long fails (or for RoPE models runs untrained positions) deep inside a job that may have trained for an
    hour, e.g. max_length 131072 for a 512-position encoder."""
    found = position_limit(model)
    if found is not None and max_length > found[0]:
        limit, source = found
        raise MaxLengthError(f"{field} {max_length} is past what {model} can encode: {limit} tokens per input "
                             f"({source} in its config); set {field} to at most {limit}")


def shift_binary_bias(head: nn.Linear, mean_margin: float) -> None:
    """Split `-mean_margin` over a two-logit head's biases: every margin drops by `mean_margin`, the weights stay."""
    with torch.no_grad():
        head.bias[1] -= mean_margin / 2
        head.bias[0] += mean_margin / 2


class BinaryClassifier(nn.Module):
    """Common surface: `forward(**collate(encode_rows(clf, rows), clf.pad_id())) -> logits [B, 2]`."""

    spec: ClassifierSpec
    tokenizer: Any
    backbone: nn.Module

    def head_state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        del state

    def shift_start(self, mean_margin: float) -> None:
        """Move the head's offset so a row scoring `mean_margin` (logit(1) - logit(0)) sits at the boundary; a no-op
        where the classifier has no offset of its own to move (see `TrainConfig.center_start`)."""
        del mean_margin

    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id or 0)


class EncoderClassifier(BinaryClassifier):
    """Bi-encoder: both sides mean-pooled by the same backbone (see `encode_pair` for why not a cross-encoder)."""

    def __init__(self, spec: ClassifierSpec, path: str, tokenizer: Any, dtype: torch.dtype) -> None:
        super().__init__()
        from transformers import AutoModel

        self.spec, self.tokenizer = spec, tokenizer
        try:  # the pooler is unused and would only add parameters LoRA/optimizers have to skip
            self.backbone = AutoModel.from_pretrained(path, dtype=dtype, add_pooling_layer=False)
        except TypeError:
            self.backbone = AutoModel.from_pretrained(path, dtype=dtype)
        hidden = int(self.backbone.config.hidden_size)
        self.preference = spec.task == TaskType.PREFERENCE.value
        # binary: [u, v, u*v, |u-v|] -> 2 logits; preference: one reward per side.
        self.head = nn.Linear(hidden if self.preference else 4 * hidden, 1 if self.preference else 2, dtype=dtype)
        self.hidden = hidden
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if not self.preference:
            # Start as the zero-shot cosine scorer: logit(True) - logit(False) = 2 * cos(u, v), on the u*v block
            # (scaled by hidden in `_combine`). A zero head plus zero LoRA B is a saddle: nothing but the head gets
            # a gradient at first, and MiniLM / mpnet sat at loss 0.69 for 60+ steps on the sentiment testbed.
            block = slice(2 * hidden, 3 * hidden)
            with torch.no_grad():
                self.head.weight[1, block] = 1.0 / hidden
                self.head.weight[0, block] = -1.0 / hidden

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden state over real tokens (how sentence-transformers embed text).

        Identical sequences in a batch are encoded once: grouped binary rows repeat their question once per
        candidate answer, and batches keep a group together, so this halves the work on the sentiment testbed.
        """
        unique, inverse = torch.unique(input_ids, dim=0, return_inverse=True)
        if len(unique) < len(input_ids):
            first = torch.zeros(len(unique), dtype=torch.long, device=input_ids.device)
            first.scatter_(0, inverse, torch.arange(len(input_ids), device=input_ids.device))
            return self.pool(input_ids[first], attention_mask[first])[inverse]
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def sides(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pair_input_ids: torch.Tensor,
              pair_attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u, v = self.pool(input_ids, attention_mask), self.pool(pair_input_ids, pair_attention_mask)
        return nn.functional.normalize(u, dim=-1), nn.functional.normalize(v, dim=-1)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pair_input_ids: torch.Tensor,
                 pair_attention_mask: torch.Tensor) -> torch.Tensor:
        """What the head reads (and probes use): [u, v, u*v, |u-v|], or v - u for preference pairs."""
        u, v = self.sides(input_ids, attention_mask, pair_input_ids, pair_attention_mask)
        return v - u if self.preference else self._combine(u, v)

    def _combine(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Each block scaled to unit-size components: u, v are unit vectors (components ~ hidden^-1/2) and u*v's are
        ~1/hidden, so unscaled the head barely sees u*v, whose sum is the cosine that carries the answer (measured:
        MiniLM stayed at loss 0.69 for an epoch; a shared LayerNorm did not help, per-block LayerNorm would delete
        the cosine)."""
        root = self.hidden**0.5
        return torch.cat([u * root, v * root, u * v * self.hidden, (u - v).abs() * root], dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pair_input_ids: torch.Tensor,
                pair_attention_mask: torch.Tensor) -> torch.Tensor:
        u, v = self.sides(input_ids, attention_mask, pair_input_ids, pair_attention_mask)
        if self.preference:  # softmax over [r_A, r_B] = sigmoid(r_B - r_A)
            root = self.hidden**0.5
            return torch.cat([self.head(u * root), self.head(v * root)], dim=-1)
        return self.head(self._combine(u, v))

    def shift_start(self, mean_margin: float) -> None:
        if not self.preference:  # a preference score is already a difference of two rewards
            shift_binary_bias(self.head, mean_margin)

    def head_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.head.state_dict().items()}

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        self.head.load_state_dict(state)


class CausalLMClassifier(BinaryClassifier):
    def __init__(self, spec: ClassifierSpec, path: str, tokenizer: Any, dtype: torch.dtype) -> None:
        super().__init__()
        from transformers import AutoModelForCausalLM

        self.spec, self.tokenizer = spec, tokenizer
        self.backbone = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        self.answer_ids = label_token_ids(tokenizer, TaskType(spec.task))

    def _parts(self) -> tuple[nn.Module, nn.Module]:
        base = self.backbone.get_base_model() if hasattr(self.backbone, "get_base_model") else self.backbone
        return base.get_decoder(), base.get_output_embeddings()

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Final-norm hidden state at the last prompt token (right padding: index = length - 1)."""
        decoder, _ = self._parts()
        hidden = decoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        last = attention_mask.sum(1).long() - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        _, lm_head = self._parts()
        rows = lm_head.weight[list(self.answer_ids)]
        logits = self.features(input_ids, attention_mask) @ rows.T
        bias = getattr(lm_head, "bias", None)
        return logits + bias[list(self.answer_ids)] if bias is not None else logits


def _dtype(precision: str) -> torch.dtype:
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)


def load_classifier(
    model: str, task: TaskType | str, max_length: int = 512, precision: str = "fp32"
) -> BinaryClassifier:
    """A fresh classifier over a base model (registry name, HF id or local path)."""
    from transformers import AutoTokenizer

    check_max_length(model, max_length)
    path, kind = detect_kind(model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    spec = ClassifierSpec(model=model, kind=kind.value, task=TaskType(task).value, max_length=max_length, lora=False)
    cls = CausalLMClassifier if kind is ModelKind.CAUSAL_LM else EncoderClassifier
    return cls(spec, path, tokenizer, _dtype(precision))


def save_classifier(clf: BinaryClassifier, folder: Path) -> Path:
    """Adapter (or full weights without LoRA) + head + classifier.json; loadable with `load_checkpoint`."""
    folder.mkdir(parents=True, exist_ok=True)
    clf.backbone.save_pretrained(folder / "backbone")
    torch.save(clf.head_state(), folder / "head.pt")
    (folder / "classifier.json").write_text(json.dumps(asdict(clf.spec), indent=2) + "\n")
    return folder


def load_checkpoint(folder: Path | str, precision: str = "fp32", merge: bool = True) -> BinaryClassifier:
    """Rebuild a trained classifier; LoRA adapters are merged for inference speed unless `merge=False`."""
    folder = Path(folder)
    meta = json.loads((folder / "classifier.json").read_text())
    if meta.get("tier") == "head":  # the fast tier: a head over cached frozen features, no backbone weights saved
        from trainer.features import load_head_checkpoint

        return load_head_checkpoint(folder, meta)
    spec = ClassifierSpec(**meta)
    if spec.lora:
        from peft import PeftModel

        clf = load_classifier(spec.model, spec.task, spec.max_length, precision)
        clf.backbone = PeftModel.from_pretrained(clf.backbone, str(folder / "backbone"))
        if merge:
            clf.backbone = clf.backbone.merge_and_unload()
    else:
        clf = load_classifier(spec.model, spec.task, spec.max_length, precision)
        full = type(clf.backbone).from_pretrained(str(folder / "backbone"), dtype=_dtype(precision))
        clf.backbone = full
    clf.spec = spec
    clf.load_head_state(torch.load(folder / "head.pt", map_location="cpu"))
    return clf
