"""Document loaders: one per file type behind :func:`load`."""

from qa.loaders.dispatch import SUPPORTED_SUFFIXES, load

__all__ = ["SUPPORTED_SUFFIXES", "load"]
