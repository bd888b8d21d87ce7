"""What coding agents use to reach their own history: a reader that answers in bounded,
redacted JSON (``reading``), the MCP server over it (``mcp_server``, needs the ``mcp``
extra) and resuming a session in the agent that recorded it (``resume``).

Like the CLI and the TUI these are shells over ``termvault.Vault``: they search, read and
restore only through its public methods. Nothing here is imported by the core.
"""
