"""One bounded reader for every stored file the studies and the app read: run records, their
per-sentence sidecars (NER, POS, probes), the POS layer choices and the shipped sentence samples.

Whatever a folder holds, a read

* opens regular files only: a link is followed only to a regular file; a FIFO, a device, a folder
  or a dangling link is refused from `os.stat`, before anything is opened, and the file is then
  opened with ``O_NONBLOCK`` and checked again with `os.fstat` (a file swapped for a FIFO between
  the two cannot block);
* reads at most ``limit`` bytes, and of a gzip file at most ``unpacked_limit`` unpacked bytes,
  decompressed a chunk at a time (a gzip bomb stops at the limit, never unpacked whole);
* checks the sha256 of the stored bytes when the caller knows it (a sidecar's is in its record);
* parses JSON only below `MAX_JSON_VALUES` values (counted before parsing) and `MAX_DEPTH` levels
  of nesting, with no NaN or Infinity;
* raises one exception type, `StoredFileError` (a ValueError; `RunRecordError` and
  `PredictionsError` are its kinds), whose message names the file by its name in its folder,
  never the server's path;
* remembers its outcome, failure or success, per file state (path, size, mtime_ns, inode and
  device): a broken file costs one read (and a stat per later ask) until it changes. The memory
  is small and bounded (`CACHE_ENTRIES` outcomes, least recently used dropped first; the text of
  a file that passed is kept only when under `CACHE_TEXT_BYTES`, `CACHE_BYTES` in all). A file
  changed in the last `SETTLED_NS` is not remembered: a timestamp tick is coarse, and a second
  change within it could leave the state as it was (git's "racily clean" rule).

`remembered` gives callers the same memory for a check that spans several files (a record and
its sidecar agreeing), and `folder_state` a key for a folder's files that a dangling link or a
FIFO cannot break.

`checked_once` remembers a check that passed across starts, in the app's cache folder
(fusion/model/disk_cache.py): keyed by the sha256 of the bytes it read and the check's version, so
identical bytes give the identical verdict and a changed file is a new key, checked again. Only
passes are stored (a refusal is checked every time, its message always fresh); a cache folder
that cannot be read or written is no cache, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
import time
import zlib
from collections import OrderedDict
from pathlib import Path

from fusion.model.disk_cache import DiskCache, default_cache_dir

MAX_DEPTH = 32  # JSON nesting; the stored records and sidecars nest 6 deep
MAX_JSON_VALUES = 2_000_000  # values in one JSON text; the largest stored sidecar holds ~252,000
CHUNK = 1 << 20  # bytes read or unpacked at a time
CACHE_ENTRIES = 512  # remembered outcomes (a failure is a short message)
CACHE_BYTES = 32_000_000  # parsed texts kept, in all
CACHE_TEXT_BYTES = 1_000_000  # a text larger than this is read again when asked for again
SETTLED_NS = 2_000_000_000  # a file changed less than 2 s ago is not remembered (coarse timestamps)
VERDICTS_FOLDER = "verdicts"  # checks that passed, under the app's cache folder (`checked_once`)


class StoredFileError(ValueError):
    """A stored file that cannot be used; the message names the file (its name in its folder)."""


# --------------------------------------------------------------------------------------------
# Files: what they are, and their bytes
# --------------------------------------------------------------------------------------------

def _name(path: Path, name: str | None) -> str:
    return name if name is not None else path.name


def _reason(error: OSError) -> str:
    """Why an OS call failed, without the path it names (str(error) would show it)."""
    return error.strerror or type(error).__name__


def file_state(path: str | Path, name: str | None = None, error: type[StoredFileError] = StoredFileError,
               what: str = "file") -> tuple:
    """(path, device, inode, size, mtime_ns) of a regular file (a link followed to one), else `error`:
    nothing is opened. The key under which a read's outcome is remembered."""
    path = Path(path)
    label = _name(path, name)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise error(f"{label}: a link to nothing (dangling link)") from None
        raise error(f"{label}: no such {what}") from None
    except OSError as failure:
        raise error(f"{label}: cannot be read ({_reason(failure)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{label}: not a regular file") from None
    return (os.path.abspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def folder_state(folder: str | Path, pattern: str = "*") -> tuple:
    """(name, size, mtime_ns) of each entry of `folder` matching `pattern`, sorted: a key for "the
    folder changed" (a link counts by what it leads to) that a dangling link, a FIFO or a file
    removed meanwhile cannot break, and that holds no server path. Nothing is opened."""
    found = []
    for path in sorted(Path(folder).glob(pattern)):
        try:
            info = os.stat(path)
        except OSError:
            try:
                info = os.lstat(path)  # a dangling link: its own state
            except OSError:
                continue  # gone meanwhile
        found.append((path.name, info.st_size, info.st_mtime_ns))
    return tuple(found)


def _read_regular(path: Path, state: tuple, limit: int, label: str, error) -> bytes:
    """The bytes of the regular file `state` describes, at most `limit` of them."""
    if state[3] > limit:
        raise error(f"{label}: larger than {limit:,} bytes")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as failure:
        raise error(f"{label}: cannot be opened ({_reason(failure)})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != state[1:3]:
            raise error(f"{label}: not a regular file (it changed while being opened)")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(descriptor, min(CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as failure:
        raise error(f"{label}: cannot be read ({_reason(failure)})") from None
    finally:
        os.close(descriptor)
    if total > limit:
        chunks.clear()
        raise error(f"{label}: larger than {limit:,} bytes")
    return b"".join(chunks)


def gunzip(raw: bytes, unpacked_limit: int, label: str, error: type[StoredFileError] = StoredFileError) -> bytes:
    """The unpacked bytes of gzip data (every member; zero padding after the last is allowed, as
    the gzip module allows it), decompressed a chunk at a time and refused once more than
    `unpacked_limit` bytes come out: a bomb costs at most the limit, never its unpacked size."""
    if not raw:
        raise error(f"{label}: not a gzip file (empty)")
    chunks, total, data = [], 0, raw
    try:
        while data:
            member = zlib.decompressobj(wbits=31)  # one gzip member: header and CRC checked
            pending = data
            while not member.eof:
                chunk = member.decompress(pending, min(CHUNK, unpacked_limit + 1 - total))
                pending = member.unconsumed_tail
                chunks.append(chunk)
                total += len(chunk)
                if total > unpacked_limit:
                    chunks.clear()  # a traceback keeps this frame: let the unpacked bytes go now
                    raise error(f"{label}: unpacks to more than {unpacked_limit:,} bytes")
                if not chunk and not pending and not member.eof:
                    raise error(f"{label}: not a complete gzip file (truncated)")
            data = member.unused_data.lstrip(b"\x00")
    except zlib.error as failure:
        raise error(f"{label}: not a gzip file ({failure})") from None
    return b"".join(chunks)


def parse_json(text: bytes, label: str, error: type[StoredFileError] = StoredFileError,
               max_depth: int = MAX_DEPTH, max_values: int = MAX_JSON_VALUES):
    """UTF-8 JSON -> Python, with at most `max_values` values and `max_depth` levels of nesting
    (values counted from the text before parsing, depth after), no NaN or Infinity."""
    values = len(text.translate(None, _NOT_VALUE_MARKS)) + 1  # commas and openers: never fewer than the values
    if values > max_values:
        raise error(f"{label}: more than {max_values:,} JSON values")
    try:
        payload = json.loads(text.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise error(f"{label}: JSON nested more than {max_depth} levels deep") from None
    except (UnicodeDecodeError, ValueError) as failure:
        raise error(f"{label}: not a readable JSON file ({type(failure).__name__})") from None
    if json_depth(payload, max_depth) > max_depth:
        raise error(f"{label}: JSON nested more than {max_depth} levels deep")
    return payload


def json_depth(payload, limit: int = MAX_DEPTH) -> int:
    """How deep parsed JSON nests (0 for a bare value), counted level by level and given up past
    `limit` (limit + 1 then). Each container's items are typed in C (`map(type, ...)`), so the long
    lists of a sidecar cost little."""
    level, depth = ([payload] if type(payload) in (list, dict) else []), 0
    while level and depth <= limit:
        depth += 1
        deeper = []
        for value in level:
            items = value.values() if type(value) is dict else value
            kinds = set(map(type, items))
            if list in kinds or dict in kinds:
                deeper.extend(item for item in items if type(item) in (list, dict))
        level = deeper
    return depth


_NOT_VALUE_MARKS = bytes(c for c in range(256) if c not in b",[{")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


# --------------------------------------------------------------------------------------------
# The memory of outcomes
# --------------------------------------------------------------------------------------------

class _Outcomes:
    """A small LRU of outcomes, each ("ok", value) or ("error", exception type, message), with
    the bytes it holds; bounded in entries and in bytes."""

    def __init__(self, entries: int, budget: int):
        self.entries, self.budget, self.used = entries, budget, 0
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                return found[0]
            return None

    def put(self, key, states: tuple, outcome: tuple, size: int = 0) -> None:
        """Remember `outcome` unless a file in `states` changed so lately that another change
        could leave its state as it is (a timestamp tick is coarse): such files are read again."""
        now = time.time_ns()
        if any(now - state[4] < SETTLED_NS for state in states):
            return
        with self.lock:
            if key in self.items:
                self.used -= self.items.pop(key)[1]
            self.items[key] = (outcome, size)
            self.used += size
            while self.items and (len(self.items) > self.entries or self.used > self.budget):
                self.used -= self.items.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.used = 0


_OUTCOMES = _Outcomes(CACHE_ENTRIES, CACHE_BYTES)


def clear_cache() -> None:
    """Forget every remembered outcome (tests; a server never needs to: a changed file is a new key)."""
    _OUTCOMES.clear()


def remembered(tag, states: tuple, compute):
    """compute(), remembered per `states` (`file_state` of each file it reads): its value, or the
    StoredFileError it raised, comes back until one of the files changes. Meant for small values
    that nobody changes (a check that passed)."""
    key = ("remembered", tag, states)
    found = _OUTCOMES.get(key)
    if found is not None:
        if found[0] == "error":
            raise found[1](found[2])
        return found[1]
    try:
        value = compute()
    except StoredFileError as failure:
        _OUTCOMES.put(key, states, ("error", type(failure), str(failure)))
        raise
    _OUTCOMES.put(key, states, ("ok", value))
    return value


def checked_once(check: str, digests: tuple[str, ...], run_check) -> None:
    """run_check() (a check that returns nothing or raises StoredFileError) unless an earlier
    start stored that `check` passed on the bytes whose sha256 are `digests`; a pass is stored
    then. `check` names the check and its version (bumped when it changes). The folder is
    touched only here, when a check is asked for; one that cannot be read or written is no cache."""
    text = json.dumps({"check": check, "digests": list(digests), "verdict": "passed"}).encode("utf-8")
    name = hashlib.sha256(json.dumps([check, *digests]).encode("utf-8")).hexdigest() + ".verdict.json"
    try:
        verdicts = DiskCache(default_cache_dir() / VERDICTS_FOLDER)
        found = verdicts.verified(name, len(text))
        if found is not None and found.read_bytes() == text:
            return
    except (OSError, RuntimeError):  # unreadable, or no home folder to find it in: no cache
        verdicts = None
    run_check()  # a refusal raises here: nothing is stored
    if verdicts is not None:
        verdicts.store(name, lambda path: path.write_bytes(text))  # None when it cannot be written


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _checked(path: Path, state: tuple, label: str, limit: int, gzipped: bool, unpacked_limit: int | None,
             sha256: str | None, error) -> bytes:
    raw = _read_regular(path, state, limit, label, error)
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise error(f"{label}: its sha256 differs from the one its record holds")
    if gzipped:
        raw = gunzip(raw, unpacked_limit if unpacked_limit is not None else limit, label, error)
    return raw


def _outcome(key, states: tuple, make, error):
    """make() -> (value, bytes to keep or None), remembered under `key`; a StoredFileError too."""
    found = _OUTCOMES.get(key)
    if found is not None:
        if found[0] == "error":
            raise error(found[2])
        if found[1] is not None:
            return found[1], True
    try:
        value, kept = make()
    except StoredFileError as failure:
        _OUTCOMES.put(key, states, ("error", type(failure), str(failure)))
        raise
    small = kept is not None and len(kept) <= CACHE_TEXT_BYTES
    _OUTCOMES.put(key, states, ("ok", kept if small else None), len(kept) if small else 0)
    return value, False


def read_bytes(path: str | Path, limit: int, *, gzipped: bool = False, unpacked_limit: int | None = None,
               sha256: str | None = None, name: str | None = None, what: str = "file",
               error: type[StoredFileError] = StoredFileError) -> bytes:
    """The bytes of a stored file (unpacked when `gzipped`), bounded and checked as the module
    says; the outcome is remembered per file state."""
    path = Path(path)
    label = _name(path, name)
    state = file_state(path, label, error, what)
    key = ("bytes", state, limit, gzipped, unpacked_limit, sha256)

    def make():
        data = _checked(path, state, label, limit, gzipped, unpacked_limit, sha256, error)
        return data, data

    return _outcome(key, (state,), make, error)[0]


def read_json(path: str | Path, limit: int, *, gzipped: bool = False, unpacked_limit: int | None = None,
              sha256: str | None = None, name: str | None = None, what: str = "file",
              max_depth: int = MAX_DEPTH, max_values: int = MAX_JSON_VALUES,
              error: type[StoredFileError] = StoredFileError):
    """A stored JSON file (gzip JSON when `gzipped`), bounded and checked as the module says, and
    parsed afresh on every call (callers may change what they get). A file that failed fails again
    at the cost of a stat until it changes; a small one that passed is not read again."""
    path = Path(path)
    label = _name(path, name)
    state = file_state(path, label, error, what)
    key = ("json", state, limit, gzipped, unpacked_limit, sha256, max_depth, max_values)

    def make():
        text = _checked(path, state, label, limit, gzipped, unpacked_limit, sha256, error)
        return parse_json(text, label, error, max_depth, max_values), text

    value, hit = _outcome(key, (state,), make, error)
    return json.loads(value.decode("utf-8")) if hit else value


def stored_sha256(path: str | Path, limit: int, *, name: str | None = None, what: str = "file",
                  error: type[StoredFileError] = StoredFileError) -> str:
    """The sha256 of a stored file's bytes (at most `limit` of them, read as the module says),
    remembered per file state; the bytes are not kept."""
    path = Path(path)
    label = _name(path, name)
    state = file_state(path, label, error, what)
    return remembered(("sha256", limit), (state,),
                      lambda: hashlib.sha256(_read_regular(path, state, limit, label, error)).hexdigest())
