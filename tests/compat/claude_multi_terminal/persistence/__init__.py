from termvault import SessionState, SessionStorage, WorkspaceState

__all__ = ["SessionState", "SessionStorage", "WorkspaceState"]
