from termvault import SessionState, WorkspaceData, WorkspaceState  # noqa: F401
