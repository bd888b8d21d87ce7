"""Archive units: the ``.tar.zst`` format (``format``), the store that holds them
locally, the older app's ``.json.gz`` files and the remote tier (``store``)."""

from .format import (
    BASE_META,
    CHUNK,
    DELTA_FORMAT,
    DELTA_WINDOW,
    FULL_FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    Manifest,
    ManifestFile,
    BaseRef,
    FileDelta,
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
    "BASE_META", "BaseRef", "DELTA_FORMAT", "DELTA_WINDOW", "FULL_FORMAT", "FileDelta",
    "CHUNK", "FORMAT_VERSION", "MANIFEST_NAME", "Manifest", "ManifestFile", "ReadResult", "SourceFile",
    "WriteResult", "archive_relpath", "content_digest", "entry_from_manifest", "iter_archive_files",
    "read_archive", "read_manifest", "sha256_file", "write_archive",
]  # fmt: skip
