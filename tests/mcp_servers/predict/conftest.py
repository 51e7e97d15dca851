from tests.mcp_servers.compute_fixtures import compute_env, servers  # noqa: F401  (fixtures)
