"""USD cost of one Messages API call from its usage block (list prices per million tokens)."""

from __future__ import annotations

from dataclasses import dataclass

# (substring of the model id, input $/MTok, output $/MTok); first match wins, so specific names come first.
PRICES: tuple[tuple[str, float, float], ...] = (
    ("opus-4-5", 5.0, 25.0),
    ("opus-4-6", 5.0, 25.0),
    ("opus", 15.0, 75.0),
    ("sonnet", 3.0, 15.0),
    ("haiku-4", 1.0, 5.0),
    ("haiku", 0.8, 4.0),
)
UNKNOWN = (15.0, 75.0)
"""An unknown model is charged at the highest price, so a budget errs on the safe side."""
CACHE_WRITE, CACHE_READ = 1.25, 0.1


@dataclass
class Usage:
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def merge(self, block: dict[str, object]) -> None:
        """Fold a `usage` block in; the API reports running totals, so the larger value wins."""
        for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = block.get(key)
            if isinstance(value, int) and value > getattr(self, key):
                setattr(self, key, value)

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def cost_usd(self) -> float:
        price_in, price_out = next(((i, o) for name, i, o in PRICES if name in self.model), UNKNOWN)
        per_token_in = price_in / 1e6
        return (self.input_tokens * per_token_in + self.cache_creation_input_tokens * per_token_in * CACHE_WRITE
                + self.cache_read_input_tokens * per_token_in * CACHE_READ + self.output_tokens * price_out / 1e6)
