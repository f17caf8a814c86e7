"""The landing folder: what it holds, how deliveries get in, and where taken-back files are kept.

- Only regular files are delivered files. Everything is looked at with ``lstat``: a symbolic link is
  never followed, and a named pipe, socket or device is never opened (a FIFO cannot hang a run), so
  nothing outside the landing folder is ever read or quoted.
- ``add_files`` checks every file before it copies any, and keeps an earlier delivery of the same name
  under ``superseded_dir`` (history) instead of refusing or overwriting it.
- Files that leave the landing folder (withdrawn, superseded) are kept under the client's
  ``withdrawn_dir``: nothing a client sent is ever deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from forgeline.i18n import _
from forgeline.ingest.errors import IngestError
from forgeline.settings import Settings

log = logging.getLogger("forgeline.ingest")

FOLDER = "a folder"


def superseded_dir(settings: Settings, client_id: str) -> Path:
    """Earlier versions of files re-delivered under the same name (``<name>.<UTC time>``): history."""
    return settings.withdrawn_dir(client_id) / "superseded"


def entry_kind(mode: int) -> str | None:
    """What a directory entry is, from its ``lstat`` mode; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return FOLDER
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def refusal(name: str, kind: str, in_landing: bool = True) -> str:
    """Why a link, special file or folder is not a delivery, and what to do (the target is never named)."""
    if kind == "a symbolic link":
        what = "is a symbolic link, not a file: links are never followed"
    elif kind == FOLDER:
        what = "is a folder named like a delivered file, not a file"
    else:
        what = f"is {kind}, a special file, not a regular file: it is never opened"
    if not in_landing:  # given to `forgeline ingest`: nothing is copied
        return f"{name}: {what}. Deliver the file itself (a copy of its content). Nothing was copied."
    return (
        f"{name}: {what}. Deliver the file itself (a copy of its content), then remove or withdraw this "
        "entry. Nothing was read from it."
    )


@dataclass(frozen=True)
class Unusable:
    """An entry of the landing folder that is not a regular file (never opened, never followed)."""

    path: Path
    relative: str
    kind: str
    fingerprint: str  # stands in for a batch id: the content is never read

    @property
    def message(self) -> str:
        return refusal(self.relative, self.kind)


@dataclass
class LandingScan:
    files: list[Path] = field(default_factory=list)  # regular files, sorted
    unusable: list[Unusable] = field(default_factory=list)  # links, special files, folders
    # Every entry walked, hidden ones too, with its lstat: the landing folder's look (forgeline.changes)
    # and its delivered bytes (forgeline.scheduling) come from this same walk, one rule for all three.
    stats: dict[Path, os.stat_result] = field(default_factory=dict)

    @property
    def delivered_bytes(self) -> int:
        """The size of the regular files ingest would look at."""
        return sum(self.stats[path].st_size for path in self.files)


def scan_landing(landing: Path) -> LandingScan:
    """Every entry under the landing folder, by ``lstat`` only (hidden names, e.g. partial copies, skipped).

    Folders are walked (not folders that are links), and listed too: ingest refuses one only when a
    source's pattern takes its name.
    """
    scan = LandingScan()
    if not landing.is_dir():
        return scan
    pending = [landing]
    while pending:
        folder = pending.pop()
        try:
            listing = os.scandir(folder)
        except PermissionError:
            log.warning("%s cannot be read (permissions): its files are not ingested.", folder)
            continue
        with listing as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed while the folder was listed
                    continue
                kind = entry_kind(info.st_mode)
                path = Path(entry.path)
                scan.stats[path] = info
                if kind == FOLDER:
                    pending.append(path)
                if entry.name.startswith("."):
                    continue
                if kind is None:
                    scan.files.append(path)
                    continue
                relative = path.relative_to(landing).as_posix()
                print_ = f"{kind}\0{relative}\0{info.st_ino}\0{info.st_mtime_ns}"
                fingerprint = hashlib.sha256(print_.encode()).hexdigest()[:16]
                scan.unusable.append(Unusable(path, relative, kind, fingerprint))
    scan.files.sort()
    scan.unusable.sort(key=lambda u: u.relative)
    return scan


def file_batch_id(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256; refuses anything but a regular file, unopened."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:  # ELOOP: a symbolic link
        kind = entry_kind(os.lstat(path).st_mode) if os.path.lexists(path) else None
        if kind:
            raise IngestError(refusal(str(path), kind)) from exc
        raise
    with os.fdopen(descriptor, "rb") as handle:
        kind = entry_kind(os.fstat(descriptor).st_mode)
        if kind:  # replaced by a pipe or a device since it was listed: opened without blocking, not read
            raise IngestError(refusal(str(path), kind))
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _free(path: Path) -> Path:
    """``path``, or a sibling with a counter when it is taken (history is never overwritten)."""
    candidate, n = path, 2
    while os.path.lexists(candidate):
        candidate, n = path.with_name(f"{path.name}.{n}"), n + 1
    return candidate


def move_aside(path: Path, target: Path) -> Path:
    """Move a landing entry out of the landing folder without following or opening it; returns where.

    ``target`` is made unique (an existing file there is never overwritten).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        target = _free(target.with_name(f"{target.stem}.{_stamp()}{target.suffix}"))
    try:
        os.rename(path, target)
    except OSError:
        kind = entry_kind(os.lstat(path).st_mode)
        if kind not in (None, "a symbolic link"):
            raise  # a pipe or device on another file system: moving it would mean opening it
        shutil.move(str(path), str(target))  # another file system: copied (a link as a link), then removed
    return target


def keep_superseded(settings: Settings, client_id: str, path: Path, relative: str) -> Path:
    """Keep the landing file ``path`` as history before a new delivery of the same name replaces it.

    A regular file is hard-linked (or copied) into the history, so the landing folder holds the old or the
    new file at every moment; anything else is moved there.
    """
    target = _free(superseded_dir(settings, client_id) / f"{relative}.{_stamp()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry_kind(os.lstat(path).st_mode) is not None:
        return move_aside(path, target)
    try:
        os.link(path, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(path, target)
    return target


def add_files(settings: Settings, client_id: str, paths: list[Path]) -> list[Path]:
    """Copy delivered files into the client's landing folder (atomically); returns where they are.

    Every file is checked first, and none is copied if one is refused: a symbolic link, special file or
    folder (by ``lstat``: never followed, never opened), a hidden name (the landing folder ignores those),
    or two files of the same name. The same content already delivered under that name changes nothing; a
    different content is a re-delivery: the earlier file is kept under ``superseded_dir`` and the new one
    takes its place (the next ingest supersedes the earlier batch's rows). Hold the client's lock.
    """
    names: dict[str, Path] = {}
    for source in paths:
        try:
            info = os.lstat(source)
        except FileNotFoundError as exc:
            raise IngestError(_("{file}: no such file. Nothing was copied.").format(file=source)) from exc
        kind = entry_kind(info.st_mode)
        if kind:
            raise IngestError(refusal(str(source), kind, in_landing=False))
        if source.name.startswith("."):
            raise IngestError(
                _(
                    "{file}: names starting with '.' are ignored in the landing folder; rename the file "
                    "(e.g. without the dot) and ingest again. Nothing was copied."
                ).format(file=source)
            )
        if source.name in names and not os.path.samefile(names[source.name], source):
            raise IngestError(
                _(
                    "{first} and {second}: two files named {name} in one delivery; deliver one of them (or "
                    "rename one). Nothing was copied."
                ).format(first=names[source.name], second=source, name=source.name)
            )
        names[source.name] = source
    landing = settings.landing_dir(client_id)
    landing.mkdir(parents=True, exist_ok=True)
    placed = []
    for source in names.values():
        target = landing / source.name
        if os.path.lexists(target):
            regular = entry_kind(os.lstat(target).st_mode) is None
            if regular and file_batch_id(target) == file_batch_id(source):
                placed.append(target)
                continue
            kept = keep_superseded(settings, client_id, target, source.name)
            log.info("%s was delivered before: the earlier file is kept as %s.", source.name, kept)
        partial = landing / f".{source.name}.partial"
        shutil.copyfile(source, partial)
        partial.replace(target)
        placed.append(target)
    return placed
