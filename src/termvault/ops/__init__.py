"""Operations on a home: sweep, restore, export, search, verify, repair, reindex, prune,
the remote tier. Each takes the parts it needs (a ``Context``), never the vault."""
