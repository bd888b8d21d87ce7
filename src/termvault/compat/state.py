"""The app's session record lives in the core (``termvault.state``): sources and the
older app's archives read it too. This name keeps the app's module layout."""

from ..state import SessionState, WorkspaceData, WorkspaceState

__all__ = ["SessionState", "WorkspaceData", "WorkspaceState"]
