from termvault import SessionState, WorkspaceData, WorkspaceState  # noqa: F401
from termvault.compat.storage import LAZY_LOADING_ENABLED, SessionStorage  # noqa: F401
