from termvault.compat.lazy_loader import (  # noqa: F401
    BackgroundLoader,
    CacheStats,
    LazyLoader,
    LoadPriority,
    LoadTask,
    SessionCache,
)
