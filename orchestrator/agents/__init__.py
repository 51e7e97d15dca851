"""Agent programs that run INSIDE a sandbox: `claude_runner` (claude-agent-sdk) and `evolve` (offline search).

They act only through the MCP servers (URLs in `W2S_<SERVER>_URL`, bearer `W2S_TOKEN`) and print one JSON line
per event on stdout; nothing here imports host-side code (mcp_servers, the orchestrator's database).
"""
