"""Archive units: the ``.tar.zst`` format (``format``), the store that holds them
locally, the older app's ``.json.gz`` files and the remote tier (``store``)."""

from .format import (
    BASE_META,
    CHUNK,
    DELTA_FORMAT,
    DELTA_WINDOW,
    FORMAT_VERSION,
    FULL_FORMAT,
    MANIFEST_NAME,
    BaseRef,
    FileDelta,
    Manifest,
    ManifestFile,
    ReadResult,
    SourceFile,
    WriteResult,
    archive_relpath,
    content_digest,
    entry_from_manifest,
    iter_archive_files,
    read_archive,
    read_manifest,
    sha256_file,
    write_archive,
)

__all__ = [
    "BASE_META", "CHUNK", "DELTA_FORMAT", "DELTA_WINDOW", "FORMAT_VERSION", "FULL_FORMAT", "MANIFEST_NAME",
    "BaseRef", "FileDelta", "Manifest", "ManifestFile", "ReadResult", "SourceFile", "WriteResult",
    "archive_relpath", "content_digest", "entry_from_manifest", "iter_archive_files", "read_archive",
    "read_manifest", "sha256_file", "write_archive",
]  # fmt: skip
