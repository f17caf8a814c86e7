"""Files replaced atomically: the one helper every writer of a small file uses (reports, quality states,
run records, purge's rewrites).

Each file is written under a unique temporary name in its own folder (``.<name>.<random>.partial``, so two
writers never share one and a reader never sees half a file), flushed to disk, then switched in with
``os.replace``, and the folder itself is flushed so the switch survives a power cut. Several files are all
written and flushed before any is switched in (a report's PDF and workbook): a failure while writing leaves
every earlier version as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` (text as UTF-8) atomically."""
    write_files({path: content})


def write_files(files: Mapping[Path, str | bytes]) -> None:
    """Replace each path with its content: all written and flushed first, then switched in."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
            written.append((Path(name), path))
            with os.fdopen(handle, "wb") as out:
                out.write(content.encode("utf-8") if isinstance(content, str) else content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(name, _mode(path))
        for temporary, path in written:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _path in written:
            temporary.unlink(missing_ok=True)
        raise
    for folder in {path.parent for path in files}:
        _fsync_folder(folder)


def _mode(path: Path) -> int:
    """The replaced file's permissions, else a new file's usual 0644 (mkstemp makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o644


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # a file system that cannot flush a folder (some network mounts)
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
