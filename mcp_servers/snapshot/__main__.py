"""`python -m mcp_servers.snapshot --transport stdio|http --host H --port P`."""

from mcp_servers.core import serve
from mcp_servers.snapshot._server import build_server

if __name__ == "__main__":
    raise SystemExit(serve(build_server, name="snapshot"))
