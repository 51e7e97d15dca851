"""`python -m mcp_servers.train --transport stdio|http --host H --port P`."""

from mcp_servers.core import serve
from mcp_servers.jobs import ComputeSettings
from mcp_servers.train._server import build_server

if __name__ == "__main__":
    raise SystemExit(serve(build_server, name="train", settings_type=ComputeSettings))
