"""Load an agent's secrets from a read-only file into its own process environment, then exec its command.

    python -I -m sandbox._envfile /run/w2s/secrets.json -- COMMAND...

The docker backend binds the file (0400, the agent's uid) instead of putting the token and the API key in the
container's environment, which `docker inspect` shows to anyone with engine access and which is stored with the
container's config. Inside, the agent's programs still read `W2S_TOKEN` / `ANTHROPIC_API_KEY` as before.
"""

from __future__ import annotations

import json
import os
import sys

ALLOWED = frozenset({"W2S_TOKEN", "ANTHROPIC_API_KEY"})


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -I -m sandbox._envfile FILE -- COMMAND...")
    with open(argv[0], encoding="utf-8") as handle:
        values = json.load(handle)
    unknown = set(values) - ALLOWED
    if unknown:
        raise SystemExit(f"secrets file names variables it may not set: {sorted(unknown)}")
    os.environ.update({k: str(v) for k, v in values.items()})
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
