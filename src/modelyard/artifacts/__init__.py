"""The storage layer for bytes: content-addressed (sha256) blobs on fsspec."""

from modelyard.artifacts._cas import ContentAddressedStore

__all__ = ["ContentAddressedStore"]
