from termvault import SessionState, SessionStorage, WorkspaceState  # noqa: F401

__all__ = ["SessionState", "WorkspaceState", "SessionStorage"]
