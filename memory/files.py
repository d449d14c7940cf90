"""Files written whole or not at all, and the format records that name what a file holds.

Every file the engine writes in place of an older one (store commit records, exports,
checkpoints) goes through `atomic_write`: a temporary file in the same folder, flushed
to disk, then renamed onto the target, so a reader or a crash sees the old file or the
new one, never half of either. Every on-disk format carries {"format", "version"} and is
read through `check_format`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _default_file_mode()  # what a plain open() would give: mkstemp makes files private


def temp_name(path: Path) -> str:
    """The prefix of `path`'s temporary files (".<name>."), for finding strays a killed writer left."""
    return f".{path.name}."


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Create or replace `path` whole: `write(temp)` fills a temporary file beside it, which
    is synced and renamed onto `path`. On any error the temporary file is removed and
    `path` is left as it was."""
    path = Path(path)
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_name(path), suffix=".tmp")
    except OSError as error:
        raise PermissionError(f"cannot write {str(path)!r}: {error}") from error
    os.close(handle)
    try:
        write(Path(temp))
        with open(temp, "rb+") as file:
            os.fsync(file.fileno())
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)  # atomic on POSIX: readers see the old or the new file
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """`atomic_write` of a byte string."""
    return atomic_write(path, lambda temp: temp.write_bytes(data))


def check_format(attrs: dict, fmt: str, version: int, where: str | os.PathLike, what: str) -> None:
    """Raise ValueError naming `where` unless `attrs` declares format `fmt` at `version`;
    `what` names the kind of file in words ("latent memory store")."""
    if attrs.get("format") != fmt:
        raise ValueError(f"{where} is not a {what} (format {attrs.get('format')!r})")
    if attrs.get("version") != version:
        raise ValueError(f"{where} has {what} version {attrs.get('version')!r}; this code reads version {version}")


__all__ = ["FILE_MODE", "atomic_write", "atomic_write_bytes", "check_format", "temp_name"]
