"""The storage layer for bytes: content-addressed (sha256) blobs on fsspec."""

from modelyard.artifacts._cas import ContentAddressedStore
from modelyard.artifacts._paths import files_under, path_inside
from modelyard.artifacts._read import Buffer, read_hashed

__all__ = ["Buffer", "ContentAddressedStore", "files_under", "path_inside", "read_hashed"]
