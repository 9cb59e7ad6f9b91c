"""Evidence uploads: the type is read from the bytes, never from the file name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kameng.platform.errors import InvalidInput

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
        raise InvalidInput("too_many_files", f"最多上传 {MAX_FILES} 个文件", f"At most {MAX_FILES} files", "evidence")
    checked = []
    for index, upload in enumerate(uploads):
        name = (upload.filename or f"file-{index + 1}").replace("/", "_").replace("\\", "_")[-200:]
        where = f"evidence[{index}]"
        if not upload.data:
            raise InvalidInput("empty_file", f"文件 {name} 为空", f"File {name} is empty", where)
        if len(upload.data) > MAX_FILE_BYTES:
            raise InvalidInput("file_too_large", f"文件 {name} 超过 5 MB", f"File {name} is larger than 5 MB", where)
        content_type = sniff(upload.data)
        if content_type is None:
            raise InvalidInput(
                "file_type",
                f"文件 {name} 不是图片、PDF 或文本",
                f"File {name} is not an image (PNG, JPEG, GIF, WebP), a PDF or UTF-8 text",
                where,
            )
        checked.append(CheckedUpload(name, content_type, upload.data, hashlib.sha256(upload.data).hexdigest()))
    return checked
