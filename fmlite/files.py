"""Writing files without losing any: the one place every writer of fmlite goes through.

- `replace_atomically(file)`: a context manager that gives a temporary path in the same folder; the
  caller writes there and, only when the block finishes, the temporary file is renamed over `file`
  (`os.replace`, atomic on POSIX and Windows). An error or a Ctrl-C inside the block removes the
  temporary file and leaves `file` as it was, byte for byte.
- `write_text`, `write_bytes`, `copy_file`: the common writes, done that way.
- `check_output_file`, `check_output_folder`: the checks a command makes before any work (a folder
  where a file is expected, a missing parent folder, an unwritable place, an existing file without
  `force`), each a `ValueError` that names the path and the fix.
- `OwnedFiles`: what fmlite last wrote into a folder (a small manifest of SHA-256 digests), so a later
  run replaces its own files freely but refuses to overwrite one the user edited, unless forced.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["replace_atomically", "write_text", "write_bytes", "copy_file", "check_output_file",
           "check_output_folder", "OwnedFiles", "digest", "TEMP_PREFIX"]

#: Temporary files and folders start with this (and are hidden); a later run removes its own leftovers.
TEMP_PREFIX = ".fmlite-tmp-"


@contextlib.contextmanager
def replace_atomically(file: str | os.PathLike):
    """`with replace_atomically(file) as tmp: write(tmp)`: `file` is replaced by `tmp` only if the block finishes.

    The temporary file lies in the folder of `file` (so the rename never crosses file systems) and is
    removed if the block raises anything, KeyboardInterrupt included; `file` is then left untouched.
    The new file gets the permissions a plain `open(file, "w")` would give it (or those of the file replaced).

    Raises:
        ValueError: the folder of `file` does not exist or cannot be written (names it and the fix).
    """
    file = Path(file)
    folder = file.parent
    try:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=file.suffix, dir=folder)
    except OSError as err:
        if not folder.is_dir():
            raise ValueError(f"cannot write {file}: folder {folder} does not exist; create it first") from None
        raise ValueError(f"cannot write {file}: folder {folder} is not writable ({err.strerror}); "
                         "choose a folder you can write to") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _copy_mode(file, tmp)
        os.replace(tmp, file)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _copy_mode(file: Path, tmp: Path) -> None:
    """Give `tmp` the mode of the file it replaces, or the default mode of a new file (mkstemp makes 0600)."""
    try:
        mode = file.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def write_text(file: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `file` atomically (`replace_atomically`). Raises ValueError as it does."""
    with replace_atomically(file) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(file: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `file` atomically (`replace_atomically`). Raises ValueError as it does."""
    with replace_atomically(file) as tmp:
        tmp.write_bytes(data)


def copy_file(src: str | os.PathLike, file: str | os.PathLike) -> None:
    """Copy `src` to `file` atomically (`replace_atomically`). Raises ValueError as it does."""
    with replace_atomically(file) as tmp:
        shutil.copyfile(src, tmp)


def _probe(folder: Path, what: str) -> None:
    """Create and remove a temporary file in `folder`: the one sure test that it can be written (even as root)."""
    try:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    except OSError as err:
        raise ValueError(f"cannot write {what}: folder {folder} is not writable ({err.strerror}); "
                         "choose a folder you can write to") from None
    os.close(fd)
    os.unlink(name)


def check_output_file(file: str | os.PathLike, force: bool = False, option: str = "--out",
                      suffixes: tuple[str, ...] | None = None) -> Path:
    """Check, before any work, that `file` can be written: return it as a Path.

    Args:
        file: the file to write. force: allow replacing an existing file.
        option: how the user gave it (named in the messages). suffixes: the allowed extensions (any if None).

    Raises:
        ValueError: a bad extension, `file` is a folder, its parent is missing or is not a folder, the parent
            cannot be written, or `file` exists and `force` is False. The message names the file and the fix.
    """
    file = Path(file)
    if suffixes is not None and file.suffix.lower() not in suffixes:
        want = " or ".join(suffixes)
        raise ValueError(f"{option} {file}: the file must end in {want}; give e.g. {file.with_suffix(suffixes[0])}")
    if file.is_dir():
        example = file / ("out" + (suffixes[0] if suffixes else ""))
        raise ValueError(f"{option} {file} is a folder; give a file name such as {example}")
    parent = file.parent
    if not parent.exists():
        raise ValueError(f"{option} {file}: folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise ValueError(f"{option} {file}: {parent} is a file, not a folder; give a path in a folder")
    if file.exists() and not force:
        raise ValueError(f"{option} {file} exists; pass --force to replace it, or give another file")
    _probe(parent, f"{option} {file}")
    return file


def check_output_folder(folder: str | os.PathLike, option: str = "--out") -> Path:
    """Check, before any work, that `folder` is (or can be made) a writable folder: return it as a Path.

    Raises:
        ValueError: `folder` is a file, its parent is missing or not a folder, or it cannot be written. The
            message names the folder and the fix.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {folder} is a file, not a folder; give a folder name (it is created)")
    if not folder.exists():
        parent = folder.parent
        if not parent.exists():
            raise ValueError(f"{option} {folder}: folder {parent} does not exist; create it first")
        if not parent.is_dir():
            raise ValueError(f"{option} {folder}: {parent} is a file, not a folder; give a path in a folder")
        _probe(parent, f"{option} {folder}")
    else:
        _probe(folder, f"{option} {folder}")
    return folder


def digest(data: bytes) -> str:
    """SHA-256 of `data`, as `OwnedFiles` records it."""
    return hashlib.sha256(data).hexdigest()


def _digest(file: Path) -> str | None:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError:
        return None


class OwnedFiles:
    """The files fmlite wrote into `folder`, recorded in `folder/MANIFEST` as {name: [sha256, ...]}.

    A file is ours when its digest is one the manifest lists; anything else at a name we are about to write
    is the user's (an edit, or a file that was there before) and is replaced only with `force`. Before
    writing, `begin(new)` records the old and the new digests together, so a run interrupted midway leaves
    every file it touched still recognised as ours; `finish()` records only the new digests.
    """

    MANIFEST = ".fmlite-files.json"

    def __init__(self, folder: str | os.PathLike, command: str):
        self.folder, self.command = Path(folder), command
        self.known: dict[str, list[str]] = {}
        try:
            data = json.loads((self.folder / self.MANIFEST).read_text(encoding="utf-8"))
            self.known = {str(k): list(v) for k, v in data.get("files", {}).items()}
        except (OSError, ValueError, AttributeError):
            self.known = {}
        self.new: dict[str, str] = {}

    def not_ours(self, names) -> list[str]:
        """The names among `names` that exist in the folder and are not files fmlite wrote there."""
        return [n for n in names
                if (self.folder / n).is_file() and _digest(self.folder / n) not in self.known.get(n, [])]

    def check(self, names, force: bool, option: str = "--out") -> None:
        """Refuse (ValueError) to overwrite files the user changed or made, unless `force`."""
        if (self.folder / self.MANIFEST).exists() and not self.known and not force:
            raise ValueError(f"{self.folder / self.MANIFEST} is unreadable; pass --force to rebuild, or give "
                             f"another {option}")
        theirs = self.not_ours(names)
        if theirs and not force:
            shown = ", ".join(theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
            raise ValueError(f"{option} {self.folder} holds files that {self.command} did not write or that were "
                             f"changed since ({shown}); pass --force to replace them, or give another {option}")

    def begin(self, new: dict[str, str]) -> None:
        """Record, before writing, that the current files and the `new` ones ({name: sha256 of the content about
        to be written}) are both ours: a run interrupted midway leaves a folder the next run may rebuild."""
        self.new = dict(new)
        files = {k: list(v) for k, v in self.known.items()}
        for n, d_new in self.new.items():
            digests = files.setdefault(n, [])
            for d in (_digest(self.folder / n), d_new):
                if d is not None and d not in digests:
                    digests.append(d)
        self._save(files, complete=False)

    def finish(self) -> None:
        """Record the digests of the files just written (those of `begin`): the folder is complete."""
        files = {k: v for k, v in self.known.items() if k not in self.new and (self.folder / k).exists()}
        files.update({k: [v] for k, v in self.new.items()})
        self._save(files, complete=True)

    def _save(self, files: dict, complete: bool) -> None:
        write_text(self.folder / self.MANIFEST, json.dumps({"written_by": self.command, "complete": complete,
                                                            "files": files}, indent=1, sort_keys=True))
