"""Exceptions raised by qa.

Every error qa raises on purpose is a :class:`QAError`. Its message says what
was wrong and what to do about it, so the CLI and the web UI can show it as is.
A file path in a message goes through :func:`printable_path` first: file names
are untrusted, and one may hold a newline or a terminal escape sequence.
"""

from __future__ import annotations

import os
import re

# What must not reach a message as is: C0 and C1 control characters (a newline
# splits the message, ESC starts a terminal command), the line and paragraph
# separators, the bidirectional marks and overrides that make "evil\u202etxt.exe"
# display as "evilexe.txt", and the lone surrogates that stand for the bytes of
# a file name that are not UTF-8 (printing one raises UnicodeEncodeError).
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    r"\ud800-\udfff]"
)
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}


def printable_path(path: str | os.PathLike[str]) -> str:
    r"""``path`` on one line, safe to print: every character that could act is escaped.

    Controls become ``\n``, ``\x1b``, ``\u202e`` and so on, as Python writes them
    in a string literal; a byte of the name that is not UTF-8 becomes ``\xNN``.
    Everything else, backslashes included, is left as it is.

    >>> printable_path("dup\nname\x1b[2J.txt")
    'dup\\nname\\x1b[2J.txt'
    """
    return _UNPRINTABLE.sub(_escape, os.fspath(path))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00
        return rf"\x{code - 0xDC00:02x}"
    return rf"\x{code:02x}" if code < 0x100 else rf"\u{code:04x}"


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
        super().__init__(f"{printable_path(path)}: {message}")
        self.path = path
        self.reason = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Loaders run in a worker process; the error must survive pickling.
        return (type(self), (self.path, self.reason))


class UnsupportedFileError(LoaderError):
    """The file's type is not one qa reads."""


class EmptyDocumentError(LoaderError):
    """The file holds no text to index."""


class ParseWorkerError(QAError):
    """The process that parses files could not be started; no file is to blame."""


class StoreError(QAError):
    """The index could not be read or written."""


class ModelMismatchError(StoreError):
    """A collection was built with another embedding model than the configured one."""


class DocumentNotFoundError(StoreError):
    """No document in the collection matches the given id or path."""


class LLMError(QAError):
    """A call to the answer model failed: unreachable, too slow, or an HTTP error."""
