"""The predict MCP server (compute side: public data only)."""

from mcp_servers.predict._server import Predictions, build_server

__all__ = ["Predictions", "build_server"]
