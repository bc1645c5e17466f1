"""What an uploaded file is, and its text: refuse what is not a text file with a message that
says what it is, and decode the rest by byte-order mark, UTF-8, or a detected encoding, saying
which was used (an upload cannot be given an encoding by hand)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# first bytes of formats people upload by mistake
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or a Word / Excel file)"),
          (b"\x1f\x8b", "a gzip archive"))
# longest first: the UTF-32 LE mark begins with the UTF-16 LE one
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))


_LINE_END = re.compile(r"\r\n|\r|\n")


class UploadError(ValueError):
    """An upload that is not a readable text file; the message says what to do."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # Python's codec name, e.g. "utf-8", "utf-16-le", "cp1252"
    how: str  # "byte-order mark", "valid UTF-8" or "detected"

    def describe(self) -> str:
        return f"{self.encoding} ({self.how})"

    def lines(self) -> list[str]:
        """The text's lines, whatever ended them: \n, \r\n or a lone \r (old Mac files, which
        split on \n alone read as one line: one token, "Scored 1 sentences"). Other Unicode
        separators stay inside their line: they may be part of a token."""
        return _LINE_END.split(self.text)


def check_kind(name: str, raw: bytes) -> None:
    """UploadError when the name or first bytes show that this is not a CoNLL text file."""
    suffix = Path(name).suffix.lower()
    if suffix == ".conllu":
        raise UploadError(
            f"{name} is CoNLL-U (Universal Dependencies): it has no PER/ORG/LOC tags. Upload a "
            "CoNLL file whose first column is the token and last column its IOB tag (B-PER, O, ...).")
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            hint = " Unzip it and upload the text file inside." if magic == b"PK\x03\x04" else ""
            raise UploadError(f"{name} is {kind}, not a text file.{hint}")
    if suffix in (".zip", ".gz", ".tar", ".7z"):
        raise UploadError(f"{name} is an archive: unpack it and upload the text file inside.")


def decode_upload(name: str, raw: bytes) -> DecodedText:
    """The file's text, decoded by its byte-order mark, as UTF-8, or by detection."""
    check_kind(name, raw)
    for mark, encoding in _BOMS:
        if raw.startswith(mark):
            try:
                return DecodedText(raw[len(mark):].decode(encoding), encoding, "byte-order mark")
            except UnicodeDecodeError as error:
                raise UploadError(f"{name} starts with a {encoding} byte-order mark but is not "
                                  f"valid {encoding} (at byte {error.start}).") from error
    try:
        return DecodedText(raw.decode("utf-8"), "utf-8", "valid UTF-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw[:4096] and not _looks_like_utf16(raw):
        raise UploadError(f"{name} holds binary data (NUL bytes), not text.")
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise UploadError(f"The encoding of {name} could not be recognised: save it as UTF-8 and "
                          "upload it again.")
    return DecodedText(str(best), best.encoding.replace("_", "-"), "detected")


def _looks_like_utf16(raw: bytes) -> bool:
    """UTF-16 text without a mark: about every other byte is NUL."""
    head = raw[:4096]
    return len(head) >= 4 and (head[1::2].count(0) > 0.4 * len(head) / 2
                               or head[0::2].count(0) > 0.4 * len(head) / 2)
