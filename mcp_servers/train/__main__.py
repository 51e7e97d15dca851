"""`python -m mcp_servers.train --transport stdio|http --host H --port P`."""

from mcp_servers.core import serve
from mcp_servers.jobs._settings import ComputeSettings
from mcp_servers.train._server import build_server

if __name__ == "__main__":
    raise SystemExit(serve(lambda: build_server().app, name="train", settings_type=ComputeSettings))
