"""Bearer-token auth for HTTP and a fixed identity for stdio / in-memory use.

Over HTTP every request carries `Authorization: Bearer <token>`; `DbTokenVerifier` looks its hash up in the
tokens db and accepts it only if the token is live and scoped for this server (else fastmcp answers 401).
Over stdio there is no request: the token comes from `W2S_TOKEN` and is checked once at start.
"""

from __future__ import annotations

import asyncio

from fastmcp.server.auth import TokenVerifier
from fastmcp.server.auth.auth import AccessToken

from mcp_servers.core._tokens import Identity, TokenStore

IDENTITY_CLAIM = "w2s_identity"


class DbTokenVerifier(TokenVerifier):
    """Accepts live tokens from the tokens db that carry `server` (or admin) in their scopes."""

    def __init__(self, store: TokenStore, server: str) -> None:
        super().__init__()
        self.store, self.server = store, server

    async def verify_token(self, token: str) -> AccessToken | None:
        identity = await asyncio.to_thread(self.store.verify, token)
        if identity is None or not identity.allows(self.server):
            return None
        return AccessToken(
            token=token,
            client_id=identity.agent,
            scopes=sorted(identity.scopes),
            claims={IDENTITY_CLAIM: {"agent": identity.agent, "token_id": identity.token_id}},
        )


def identity_from_access_token(token: AccessToken) -> Identity:
    claim = token.claims.get(IDENTITY_CLAIM) or {}
    return Identity(agent=token.client_id, scopes=frozenset(token.scopes), token_id=claim.get("token_id"))
