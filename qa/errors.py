"""Exceptions raised by qa.

Every error qa raises on purpose is a :class:`QAError`. Its message says what
was wrong and what to do about it, so the CLI and the web UI can show it as is.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error qa raises on purpose."""


class ConfigError(QAError):
    """A setting has a value qa cannot use."""


class MissingDependencyError(QAError):
    """An optional package is needed for a feature that was asked for."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the package '{package}'; install it with "
            f"`pip install 'qa[{extra}]'`"
        )
        self.package = package
        self.extra = extra


class LoaderError(QAError):
    """A file could not be turned into text.

    Attributes:
        path: the file that failed.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Loaders run in a worker process; the error must survive pickling.
        return (type(self), (self.path, self.reason))


class UnsupportedFileError(LoaderError):
    """The file's type is not one qa reads."""


class EmptyDocumentError(LoaderError):
    """The file holds no text to index."""


class StoreError(QAError):
    """The index could not be read or written."""


class ModelMismatchError(StoreError):
    """A collection was built with another embedding model than the configured one."""


class DocumentNotFoundError(StoreError):
    """No document in the collection matches the given id or path."""
