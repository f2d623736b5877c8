"""Downloading and unpacking data sets safely: checksums, atomic renames, no escaping archives.

- :func:`download` fetches one file into the cache and proves it is the right one by its SHA-256.
- :func:`extract` unpacks an archive, refusing any member that would land outside its folder.
- :func:`data_home` is the cache folder: ``$DLBOOK_DATA``, or ``~/.cache/dlbook``.

Two promises hold whatever goes wrong: after :func:`download` returns, ``path`` holds a file with
the expected checksum; after it raises, ``path`` holds nothing and no temporary file is left.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

__all__ = ["DownloadError", "UnsafeArchiveError", "data_home", "download", "extract", "sha256sum"]

_CHUNK = 1 << 20  # 1 MiB: large enough to be quick, small enough to stream a big archive


class DownloadError(OSError):
    """A download failed: unreachable host, HTTP error, cut-off transfer or wrong checksum."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the folder it is extracted into."""


def data_home() -> Path:
    """The folder where downloads are cached: ``$DLBOOK_DATA`` if set, else ``~/.cache/dlbook``.

    The environment variable is read on every call, so it can be changed while Python runs. The
    folder is not created here; the loaders create it when they first write into it.
    """
    return Path(os.environ.get("DLBOOK_DATA") or "~/.cache/dlbook").expanduser()


def sha256sum(path) -> str:
    """The SHA-256 of a file, as 64 lowercase hex digits, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, path, sha256: str | None, timeout: float = 30.0, progress: bool = False):
    """Download ``url`` to ``path`` and check its SHA-256; return ``path`` (a ``pathlib.Path``).

    - A file already at ``path`` with the right checksum is returned at once, with no network call.
      One with the wrong checksum is corrupt: a warning says so and the file is downloaded again.
    - The bytes stream into a temporary file in the same folder, hashed on the way; only when the
      checksum matches is it renamed onto ``path`` with ``os.replace``, which is atomic, so a
      reader never sees half a file.
    - An unreachable host, an HTTP error, a transfer cut off before ``Content-Length`` bytes, a
      timeout (``timeout`` seconds without data) or a wrong checksum raises :class:`DownloadError`
      naming the URL, and leaves no file at ``path`` and no temporary file.
    - ``sha256=None`` means no checksum is known yet: the file is accepted, with a warning that
      gives its digest so that it can be pinned. Avoid it.
    """
    path = Path(path)
    if sha256 is not None:
        sha256 = _check_digest(sha256)
    if path.is_file():
        found = sha256sum(path)
        if sha256 is None:
            _warn_unpinned(url, found)
            return path
        if found == sha256:
            return path
        warnings.warn(
            f"{path} has SHA-256 {found}, not {sha256}: it is corrupt; downloading {url} again",
            stacklevel=2,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            found = _stream(url, out, timeout, progress)
        if sha256 is not None and found != sha256:
            raise DownloadError(f"{url}: SHA-256 is {found}, expected {sha256}; file removed")
        os.replace(tmp, path)
    except BaseException:
        # Keep the promise: a failed download leaves neither a part file nor a stale one.
        Path(tmp).unlink(missing_ok=True)
        if path.is_file() or path.is_symlink():
            path.unlink()
        raise
    if sha256 is None:
        _warn_unpinned(url, found)
    return path


def _check_digest(sha256) -> str:
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a str of 64 hex digits or None, got {sha256!r}")
    digest = sha256.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return digest


def _warn_unpinned(url: str, found: str) -> None:
    warnings.warn(
        f"no SHA-256 is pinned for {url}; the file has SHA-256 {found}. Check it against a "
        "trusted source and pin it.",
        stacklevel=3,
    )


def _stream(url: str, out, timeout: float, progress: bool) -> str:
    """Copy ``url``'s body into ``out``; return its SHA-256. Any failure -> DownloadError."""
    request = urllib.request.Request(url, headers={"User-Agent": "dlbook"})
    digest, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None else None
            with _progress_bar(progress, expected, url) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise DownloadError(f"{url}: cannot reach the host ({err.reason})") from err
    except (OSError, http.client.HTTPException) as err:
        raise DownloadError(f"{url}: transfer failed after {received} bytes ({err!r})") from err
    if expected is not None and received != expected:
        # http.client returns a short body quietly when the server hangs up early.
        raise DownloadError(f"{url}: transfer cut off: got {received} of {expected} bytes")
    return digest.hexdigest()


def _progress_bar(progress: bool, total, url: str):
    from tqdm.auto import tqdm

    name = url.rsplit("/", 1)[-1]
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress)


def extract(archive, dest):
    """Unpack ``archive`` into the folder ``dest`` and return ``dest`` (a ``pathlib.Path``).

    Handles ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``, and ``.gz`` (one
    compressed file, which lands in ``dest`` under its name without ``.gz``; that file's path is
    returned instead).

    Archives can be hostile: a member called ``../../.bashrc`` or ``/etc/passwd``, or a symbolic
    link pointing out of ``dest`` with later members written through it. Every member is checked
    before anything is written, and again, with links resolved, as it is written; one that would
    land outside ``dest`` raises :class:`UnsafeArchiveError` naming it. Tar files are also
    extracted with Python's own ``filter='data'`` where it exists (3.12, and 3.11.4 onwards), which
    refuses the same members and device files and drops dangerous permission bits.
    """
    archive, dest = Path(archive), Path(dest)
    name = archive.name.lower()
    dest.mkdir(parents=True, exist_ok=True)
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        _extract_tar(archive, dest)
    elif name.endswith(".zip"):
        _extract_zip(archive, dest)
    elif name.endswith(".gz"):
        return _gunzip(archive, dest / archive.name[:-3])
    else:
        raise ValueError(f"archive must end in .tar, .tar.gz, .tgz, .zip or .gz, got {archive}")
    return dest


def _inside(root: str, target: str) -> bool:
    return os.path.commonpath([root, target]) == root


def _refuse(archive, member: str, why: str):
    raise UnsafeArchiveError(f"{archive}: refusing member {member!r}: {why}")


def _check_name(archive, member: str, root: str) -> str:
    """Lexical check, before extraction: no absolute names, nothing climbing out with ``..``."""
    if os.path.isabs(member) or member.startswith(("/", "\\")) or os.path.splitdrive(member)[0]:
        _refuse(archive, member, "absolute path")
    target = os.path.normpath(os.path.join(root, member))
    if not _inside(root, target):
        _refuse(archive, member, f"it would land outside {root}")
    return target


def _check_link(archive, member: str, link: str, base: str, root: str, physical: bool) -> None:
    """A link's target, relative to ``base``, must stay inside ``root``."""
    if os.path.isabs(link):
        _refuse(archive, member, f"link to the absolute path {link!r}")
    joined = os.path.join(base, link)
    target = os.path.realpath(joined) if physical else os.path.normpath(joined)
    if not _inside(root, target):
        _refuse(archive, member, f"link to {link!r} points outside {root}")


def _check_tar_member(archive, info: tarfile.TarInfo, root: str, physical: bool) -> None:
    """``physical=False``: by name only, before anything is written. ``physical=True``: just before
    writing, following the links that earlier members of the archive have already made."""
    target = _check_name(archive, info.name, root)
    if physical:
        where = os.path.join(os.path.realpath(os.path.dirname(target)), os.path.basename(target))
        if not info.issym():  # writing a file onto an existing link would follow it
            where = os.path.realpath(where)
        if not _inside(root, where):
            _refuse(archive, info.name, f"it would be written through a link out of {root}")
        target = where
    if info.issym():  # a symbolic link's target is named from the link's own folder
        _check_link(archive, info.name, info.linkname, os.path.dirname(target), root, physical)
    elif info.islnk():  # a hard link's target is named from the archive's root
        _check_link(archive, info.name, info.linkname, root, root, physical)
    elif not (info.isfile() or info.isdir()):
        _refuse(archive, info.name, "device files and fifos are not data")


def _extract_tar(archive: Path, dest: Path) -> None:
    root = os.path.realpath(dest)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for info in members:
            _check_tar_member(archive, info, root, physical=False)
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        for info in members:
            _check_tar_member(archive, info, root, physical=True)
            try:
                tar.extract(info, root, **extra)
            except tarfile.TarError as err:  # FilterError where the data filter exists
                raise UnsafeArchiveError(
                    f"{archive}: refusing member {info.name!r}: {err}"
                ) from err


def _extract_zip(archive: Path, dest: Path) -> None:
    root = os.path.realpath(dest)
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            target = _check_name(archive, info.filename, root)
            if stat.S_ISLNK(info.external_attr >> 16):
                # zipfile writes a link as a small file holding its target; refuse escaping ones.
                link = zf.read(info).decode("utf-8", "replace")
                _check_link(archive, info.filename, link, os.path.dirname(target), root, False)
        for info in members:
            target = os.path.join(root, info.filename)
            if not _inside(root, os.path.realpath(target)):
                _refuse(archive, info.filename, "it would be written through a link out of dest")
            zf.extract(info, root)


def _gunzip(archive: Path, out: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with gzip.open(archive, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
