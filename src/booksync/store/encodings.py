"""Which text encoding a CSV file is in, decided only when it is certain (issue 19 item 9).

Without ``--encoding``, booksync reads only what it can tell apart for certain:

* UTF-8 with a byte order mark, UTF-16 with one (little or big endian);
* UTF-8 when every byte sequence is valid UTF-8;
* otherwise Windows-1252, or ISO-8859-1 (the same characters except 0x80–0x9F, which ISO-8859-1 gives to
  control characters no text holds: a file using them is Windows-1252, one that does not reads the same
  either way), when the text read that way looks like text: no control characters, no byte undefined in
  Windows-1252, and no sign of another code page (see :func:`_doubt`).

Anything else is refused with what was seen and the advice to name the encoding: UTF-32, UTF-16 without
a byte order mark, UTF-8 with damaged bytes (it has valid multi-byte sequences too), and text that read
as Windows-1252 has punctuation right after letters or capitals after small letters, the mark of a DOS or Mac
code page (cp850 ``Café`` is ``Caf‚``; Mac Roman ``Café`` is ``CafŽ``). A guessing detector
(charset-normalizer, used before) read a Latin-1 file as cp775 and damaged UTF-8 as cp857, silently.

``--encoding NAME`` (or ``import.encoding``) is taken as the person's word: any codec Python knows.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

ACCEPTED = "utf-8, utf-16, windows-1252 or iso-8859-1"
ADVICE = ("save it from Excel as \"CSV UTF-8\", or name its encoding with --encoding (for example utf-8, "
          "windows-1252, iso-8859-1, utf-16; or the code page it was written in, such as cp850)")

_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_INSIDE_WORD = frozenset("\u2019\u2018\u2013\u2014\u00b7")
"""Punctuation real text puts between two letters: O’Brien, Smith–Jones, the Catalan l·l."""
_AFTER_WORD = _INSIDE_WORD | frozenset("\u201d\u00bb\u2026\u2122\u00ae\u00a9\u00b0\u00b2\u00b3\u00b9\u00ba"
                                       "\u00aa\u20ac\u00a3\u00a5\u00a2\u00a7")
"""... and right after a letter: a closing quote, an ellipsis, ™ ® ©, degrees, ordinals, currency signs."""


class EncodingProblem(Exception):
    """The file cannot be read, or its encoding cannot be told for certain. ``reason`` is the sentence for
    the user; ``row`` the file's line it concerns (0: the file as a whole)."""

    def __init__(self, reason: str, row: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.row = reason, row


CHUNK = 1 << 20
"""Bytes read at a time when a file is examined without holding it whole."""


@dataclass(frozen=True)
class Encoding:
    """How to open a file as text: ``codec`` for :func:`open` (a byte order mark is read past), and how it
    was decided (for "Read as CSV, ...")."""

    codec: str
    read_as: str


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


def _check(fh: BinaryIO, codec: str) -> tuple[int, int] | None:
    """Read all of ``fh`` as ``codec`` without keeping it; None when it reads, else (the first byte that
    does not, its row)."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder(codec)()
    rows = 1
    for chunk in _chunks(fh):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            start = max(0, min(exc.start, len(chunk) - 1))
            return chunk[start], rows + chunk[:start].count(b"\n")
        rows += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return 0, rows
    return None


def detect(path: Path) -> Encoding:
    """The encoding of the CSV file at ``path``, decided as the module docstring says, reading it a chunk at
    a time (the memory it takes does not grow with the file). Raises :class:`EncodingProblem`."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            raise EncodingProblem(f"the file is UTF-32 text, which booksync does not read ({ACCEPTED}); " + ADVICE)
        for bom, codec, name in ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
                                 (codecs.BOM_UTF16_BE, "utf-16", "utf-16")):
            if head.startswith(bom):
                bad = _check(fh, codec)
                if bad is not None:
                    raise EncodingProblem(f"the file starts with a {name} byte order mark but is not {name} text",
                                          bad[1])
                return Encoding(codec, f"{name} (byte order mark)")
        bad = _check(fh, "utf-8")
        if bad is None:
            return Encoding("utf-8", "UTF-8")
        fh.seek(0)
        rows, before, c1 = 1, " ", False
        for chunk in _chunks(fh):
            if b"\x00" in chunk:
                raise EncodingProblem("the file is not text booksync can read (it holds NUL bytes: not CSV, or "
                                      "UTF-16 without a byte order mark); " + ADVICE)
            if _UTF8_SEQUENCE.search(chunk):
                raise EncodingProblem(f"the file looks like UTF-8 but byte 0x{bad[0]:02X} is not valid UTF-8 (the "
                                      "file was damaged or mixes encodings); booksync will not guess: " + ADVICE,
                                      bad[1])
            c1 = c1 or re.search(rb"[\x80-\x9f]", chunk) is not None
            try:
                text = chunk.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise EncodingProblem(f"the file is not UTF-8, and byte 0x{chunk[exc.start]:02X} is neither "
                                      "Windows-1252 nor ISO-8859-1 text (a DOS or Mac code page?); booksync will not "
                                      "guess: " + ADVICE, rows + chunk[:exc.start].count(b"\n")) from None
            doubt = _doubt(before + text)
            if doubt is not None:
                offset, seen = doubt
                raise EncodingProblem(f"the file is not UTF-8, and read as Windows-1252 it would say {seen!r}, "
                                      "which does not look like text (another code page?); booksync will not "
                                      "guess: " + ADVICE, rows + (before + text)[1:offset].count("\n"))
            rows += text.count("\n")
            before = text[-1]
        name = "windows-1252" if c1 else "iso-8859-1"
        return Encoding("cp1252", f"{name} (not UTF-8)")


def declared_encoding(path: Path, declared: str) -> Encoding:
    """The encoding ``declared`` (``--encoding``) for the file at ``path``, checked over the whole file a
    chunk at a time. Raises :class:`EncodingProblem` for an unknown name or a byte it cannot read."""
    try:
        codec = codecs.lookup(declared)
    except LookupError:
        raise EncodingProblem(f"unknown encoding {declared!r} (--encoding / import.encoding); use e.g. utf-8, "
                              "windows-1252, latin-1 or utf-16") from None
    name = codec.name
    with open(path, "rb") as fh:
        if name == "utf-8" and fh.read(3) == codecs.BOM_UTF8:
            name = "utf-8-sig"
        bad = _check(fh, name)
    if bad is not None:
        raise EncodingProblem(f"the file is not {declared} text (byte 0x{bad[0]:02X} cannot be read); "
                              "check the encoding (--encoding)", bad[1])
    return Encoding(name, f"{declared} (declared)")


def _doubt(text: str) -> tuple[int, str] | None:
    """Where ``text`` (read as Windows-1252) stops looking like text, and the word there; None when it does.

    Doubtful: a control character; a non-ASCII symbol or punctuation right after a letter (cp437's é is
    Windows-1252's ‚), except those real text puts there (:data:`_INSIDE_WORD`, :data:`_AFTER_WORD`); a
    non-ASCII capital right after a small letter (Mac Roman's é is Ž)."""
    for i, ch in enumerate(text):
        if ch < "\x80":
            continue
        category = unicodedata.category(ch)
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        doubtful = (category.startswith("C")
                    or (category[0] in "PS" and before.isalpha()
                        and ch not in (_INSIDE_WORD if after.isalpha() else _AFTER_WORD))
                    or (category == "Lu" and before.islower()))
        if doubtful:
            start = max(text.rfind(" ", 0, i), text.rfind(",", 0, i), text.rfind("\n", 0, i)) + 1
            end = min([p for p in (text.find(" ", i), text.find(",", i), text.find("\n", i)) if p != -1]
                      or [len(text)])
            return i, text[start:end]
    return None
