"""`python -m mcp_servers.predict --transport stdio|http --host H --port P`."""

from mcp_servers.core import serve
from mcp_servers.jobs import ComputeSettings
from mcp_servers.predict._server import build_server

if __name__ == "__main__":
    raise SystemExit(serve(build_server, name="predict", settings_type=ComputeSettings))
