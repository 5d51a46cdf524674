"""Checks for zip-based formats (.docx, .pptx, .xlsx, .odt, .epub) before a parser opens them.

Their parsers inflate parts in memory, so an archive that would inflate far
beyond its size (a zip bomb) is refused first. An Office file saved with a
password is not a zip at all but an OLE compound file holding the encrypted
package; that is told apart from an old binary .doc/.ppt/.xls.
"""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

from qa.errors import LoaderError, printable_path
from qa.loaders.base import human_size

MAX_RATIO = 50
RATIO_FLOOR = 100 * 2**20
MAX_MEMBER = 512 * 2**20
MAX_MEMBERS = 10_000

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The stream every password-protected Office Open XML file holds, as its
# UTF-16 directory entry name in the compound file.
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")


def is_encrypted_office(data: bytes) -> bool:
    """True for an OLE compound file that holds an encrypted Office Open XML package."""
    return data.startswith(OLE_MAGIC) and _ENCRYPTION_INFO in data


def open_zip(
    path: Path,
    data: bytes,
    what: str,
    remedy: str,
    *,
    max_member: int = MAX_MEMBER,
    max_ratio: int = MAX_RATIO,
    ratio_floor: int = RATIO_FLOOR,
    max_members: int = MAX_MEMBERS,
) -> zipfile.ZipFile:
    """``data`` as an open zip archive, after the zip-bomb checks.

    Args:
        what: the format in messages ("a PowerPoint file").
        remedy: what to do with a file that is not one ("save it as .pptx").

    Raises:
        LoaderError: not a zip archive (encrypted, an older format, other data),
            too many members, or members that unpack too far.
    """
    if is_encrypted_office(data):
        raise LoaderError(
            str(path),
            "is password-protected (encrypted); open it, remove the password "
            "and save it again, then ingest it",
        )
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        older = " (or an older binary format)" if data.startswith(OLE_MAGIC) else ""
        raise LoaderError(
            str(path), f"is not {what}{older}: not a zip archive; {remedy}"
        ) from None
    if len(members) > max_members:
        archive.close()
        raise LoaderError(
            str(path), f"holds {len(members)} parts, more than {what} should; not read"
        )
    total = sum(member.file_size for member in members)
    biggest = max(members, key=lambda member: member.file_size, default=None)
    if biggest is not None and biggest.file_size > max_member:
        archive.close()
        raise LoaderError(
            str(path),
            f"has a part '{printable_path(biggest.filename)}' that unpacks to "
            f"{human_size(biggest.file_size)}, "
            f"over the limit of {human_size(max_member)}; it looks like a zip bomb, not read",
        )
    if total > ratio_floor and total > max_ratio * len(data):
        archive.close()
        raise LoaderError(
            str(path),
            f"unpacks to {human_size(total)} from {human_size(len(data))}; "
            "it looks like a zip bomb, not read",
        )
    return archive
