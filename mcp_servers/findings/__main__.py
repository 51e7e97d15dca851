"""`python -m mcp_servers.findings --transport stdio|http --host H --port P`."""

from mcp_servers.core import serve
from mcp_servers.findings._server import build_server

if __name__ == "__main__":
    raise SystemExit(serve(build_server, name="findings"))
