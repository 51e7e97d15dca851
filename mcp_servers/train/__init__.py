"""The train MCP server (compute side: public data only)."""

from mcp_servers.train._recipes import RECIPES, Recipe, register_recipe
from mcp_servers.train._server import build_server

__all__ = ["RECIPES", "Recipe", "build_server", "register_recipe"]
