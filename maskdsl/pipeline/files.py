"""Files as maskdsl reads and writes them: regular files only, bounded reads, outputs that
appear whole or not at all, with the permissions the umask gives.

Reading. `/dev/zero`, `/dev/urandom`, a FIFO or a socket reports a size of 0 and never
ends, and opening a FIFO waits for a writer: `open_regular` opens without waiting and
refuses anything but a regular file (a `NotRegularFileError`, an OSError whose
`strerror` says what the path is). `read_limited` never reads more than it is allowed.

Writing. `write_atomically` writes to an unnamed file in the target's directory
(O_TMPFILE), fsyncs it and gives it its name with one `linkat`; killed at any moment
before that, it leaves nothing behind. Replacing an existing file (`force`) links the
finished file under a temporary name and renames it over the old one, so a name of
ours exists only between those two system calls. Where O_TMPFILE is missing (not
Linux, some file systems) a named temporary file is used, as before. Every OSError
becomes a DataError naming the file.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> target = os.path.join(folder, "out.txt")
>>> write_atomically(target, lambda f: f.write(b"hello"), force=False)
>>> with open_regular(target) as f:
...     read_limited(f, 3)
b'hel'
>>> sorted(os.listdir(folder))
['out.txt']
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import threading
import uuid

from maskdsl.errors import DataError, escape_text


class NotRegularFileError(OSError):
    """The path exists but is not a regular file (a device, a FIFO, a socket)."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path):
    """A binary file object open for reading, if `path` is a regular file (symbolic links are
    followed). IsADirectoryError for a directory, NotRegularFileError for a device, a FIFO or a
    socket, and the usual OSErrors (FileNotFoundError, PermissionError, ...) otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)   # O_NONBLOCK: a FIFO without a writer must not block the open
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"is {_kind(mode)}, not a regular file", os.fspath(path))
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_limited(file, limit: int) -> bytes:
    """At most `limit` bytes of `file` (ask for one more to learn whether there is more)."""
    chunks, left = [], limit
    while left > 0:
        chunk = file.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it (Linux shows it in /proc/self/status;
    elsewhere it is set and restored under a lock)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _cannot_write(path: str, error: OSError) -> DataError:
    return DataError(f"cannot write {escape_text(path)}: {error.strerror or error}")


def check_writable(directory: str, path: str) -> None:
    """A DataError now, before any work, if files cannot be created in `directory` (a read-only
    file system, /proc, no permission): the outputs of `path` are written there."""
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".maskdsl-check-"):
            pass
    except OSError as e:
        raise _cannot_write(path, e) from None


def _unnamed(directory: str) -> int | None:
    """A file descriptor of a new file without a name in `directory` (O_TMPFILE), or None where
    the system or the file system cannot make one."""
    if not hasattr(os, "O_TMPFILE") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, os.O_TMPFILE | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None   # a file system without O_TMPFILE: fall back to a named temporary file
        raise


def write_atomically(path: str, write, force: bool) -> None:
    """Call `write(file)` on a new file and publish it as `path` once flushed and fsynced: replace
    an existing `path` only with `force` (DataError otherwise); a failure leaves nothing."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    try:
        fd = _unnamed(directory)
        if fd is None:
            return _write_named(path, write, force)
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
                source = f"/proc/self/fd/{out.fileno()}"
                try:   # linkat(AT_SYMLINK_FOLLOW): the unnamed file gets its name, if it is free
                    os.link(source, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=True)
                except FileExistsError:
                    if not force:
                        raise DataError(f"{escape_text(path)} already exists; pass --force to overwrite it") \
                            from None
                    temporary = f".{name}.{uuid.uuid4().hex[:12]}.part"
                    os.link(source, temporary, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=True)
                    try:
                        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                    except OSError:
                        os.unlink(temporary, dir_fd=dir_fd)
                        raise
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise _cannot_write(path, e) from None


def _write_named(path: str, write, force: bool) -> None:
    """write_atomically through a named temporary file (no O_TMPFILE here)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it private; the output should not be
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        publish(temporary, path, force)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def publish(temporary: str, path: str, force: bool) -> None:
    """Move a finished file into place: replace only with force; otherwise fail if it exists
    (a hard link is the atomic "create if absent")."""
    if force:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise DataError(f"{escape_text(path)} already exists; pass --force to overwrite it") from None
    except OSError:  # no hard links here (some network and FAT file systems)
        if os.path.exists(path):
            raise DataError(f"{escape_text(path)} already exists; pass --force to overwrite it") from None
        os.replace(temporary, path)
    else:
        os.unlink(temporary)
