from tests.mcp_servers.compute_fixtures import compute_env  # noqa: F401  (fixture)
