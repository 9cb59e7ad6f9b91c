"""Evidence uploads: the type is read from the bytes, never from the file name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kameng.platform import inputs
from kameng.platform.errors import ErrorCode, InvalidInput

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TEXT_BYTES = 1024 * 1024
MAX_FILES = 6


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves declare; None for anything we do not accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in {b"GIF87a", b"GIF89a"}:
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if len(data) <= MAX_TEXT_BYTES and b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def check_uploads(uploads: list[Upload]) -> list[CheckedUpload]:
    if len(uploads) > MAX_FILES:
        raise InvalidInput(ErrorCode.TOO_MANY_FILES, "error.too_many_files", "evidence", most_files=MAX_FILES)
    checked = []
    for index, upload in enumerate(uploads):
        where = f"evidence[{index}]"
        # The name is kept and shown on the ticket: no control characters, at most 200 of the rest.
        name = inputs.clean_text(upload.filename, inputs.FILENAME, where) or f"file-{index + 1}"
        name = name.replace("/", "_").replace("\\", "_")
        if not upload.data:
            raise InvalidInput(ErrorCode.EMPTY_FILE, "error.empty_file", where, name=name)
        if len(upload.data) > MAX_FILE_BYTES:
            raise InvalidInput(ErrorCode.FILE_TOO_LARGE, "error.file_too_large", where, name=name)
        content_type = sniff(upload.data)
        if content_type is None:
            raise InvalidInput(ErrorCode.FILE_TYPE, "error.file_type", where, name=name)
        checked.append(CheckedUpload(name, content_type, upload.data, hashlib.sha256(upload.data).hexdigest()))
    return checked
