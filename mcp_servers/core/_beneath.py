"""Opening a file an agent controls, from the host, without following anything the agent planted.

Every host-side reader of a workspace (job logs, predictions, labels files, checkpoints) goes through
`open_beneath`: one open, relative to a directory the operator chose, that refuses symbolic links at every
component, `..`, absolute paths and anything but a regular file (or a directory when asked for one). The caller
then reads what it opened, so there is no window between a check and an open for an agent to swap a link in.

Linux >= 5.6 does it in one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` call; older
kernels (or a seccomp filter that hides openat2) get a walk from a directory fd with `O_NOFOLLOW` on every
component, which gives the same guarantee one component at a time.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat

_SYS_OPENAT2 = 437
"""openat2's number is the same on every architecture (it came after the syscall table was unified)."""
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_BASE_FLAGS = os.O_CLOEXEC | os.O_NOCTTY
_openat2_works: bool | None = None


class BeneathError(OSError):
    """A path that may not be opened from the host: the message says which part was wrong."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _components(relpath: str | os.PathLike[str]) -> list[str]:
    text = os.fspath(relpath)
    if not isinstance(text, str):
        raise BeneathError(errno.EINVAL, f"path {text!r} must be text")
    if "\0" in text:
        raise BeneathError(errno.EINVAL, f"path {text!r} contains a NUL byte")
    if not text or text.startswith("/"):
        raise BeneathError(errno.EINVAL, f"path {text!r} must be relative (inside the workspace)")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BeneathError(errno.EINVAL, f"path {text!r} contains '..' (it would leave the workspace)")
    if not parts:
        raise BeneathError(errno.EINVAL, f"path {text!r} names no file")
    return parts


def _syscall() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return libc.syscall


def _openat2(dir_fd: int, relpath: str, flags: int, mode: int) -> int | None:
    """The fd, or None when this kernel (or a seccomp filter) has no openat2; other errors are raised."""
    global _openat2_works
    if _openat2_works is False:
        return None
    call = _syscall()
    if call is None:
        _openat2_works = False
        return None
    # openat2 refuses a mode without O_CREAT/O_TMPFILE (EINVAL), unlike open().
    tmpfile = getattr(os, "O_TMPFILE", 0)  # includes O_DIRECTORY's bit: test all of it
    mode = mode if flags & os.O_CREAT or (tmpfile and flags & tmpfile == tmpfile) else 0
    how = _OpenHow(flags, mode, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
    fd = call(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dir_fd), ctypes.c_char_p(os.fsencode(relpath)),
              ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd >= 0:
        _openat2_works = True
        return int(fd)
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM) and _openat2_works is None:
        _openat2_works = False  # seccomp filters answer EPERM or ENOSYS for syscalls they do not know
        return None
    raise OSError(err, os.strerror(err))


def _walk(dir_fd: int, parts: list[str], flags: int, mode: int) -> int:
    current = os.dup(dir_fd)
    try:
        for part in parts[:-1]:
            following = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _BASE_FLAGS, dir_fd=current)
            os.close(current)
            current = following
        return os.open(parts[-1], flags | os.O_NOFOLLOW, mode, dir_fd=current)
    finally:
        os.close(current)


def _explain(err: OSError, shown: str) -> BeneathError:
    reasons = {
        errno.ELOOP: "is or passes through a symbolic link (the server never follows links in a workspace)",
        errno.EXDEV: "leads outside the workspace",
        errno.ENOENT: "does not exist",
        errno.ENOTDIR: "passes through something that is not a folder (a symbolic link?)",
        errno.EACCES: "is not readable",
        errno.EISDIR: "is a folder, not a file",
        errno.ENXIO: "is not a regular file",
    }
    code = err.errno or errno.EIO
    return BeneathError(code, f"{shown!r} {reasons.get(code, err.strerror or 'cannot be opened')}")


def open_beneath(root: int | str | os.PathLike[str], relpath: str | os.PathLike[str], flags: int = os.O_RDONLY,
                 mode: int = 0o644) -> int:
    """Open `relpath` beneath `root` (a directory path or fd the caller trusts) without following any link.

    Answers a file descriptor the caller owns. Without `os.O_DIRECTORY` in `flags` the result must be a regular
    file (a FIFO, socket or device is refused, and opening one never blocks); with it, a directory.
    Raises `BeneathError` (an OSError) whose message names the path and what was wrong with it.
    """
    parts = _components(relpath)
    shown = "/".join(parts)
    want_dir = bool(flags & os.O_DIRECTORY)
    # O_NONBLOCK: a planted FIFO must not hang the server in open(); cleared again once it is known to be a file.
    open_flags = flags | _BASE_FLAGS | (0 if want_dir else os.O_NONBLOCK)
    if isinstance(root, int):
        root_fd = root
    else:
        try:
            root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:  # named without the root's own (host) path: messages reach agents
            raise BeneathError(exc.errno or errno.ENOENT, f"{shown!r} does not exist (no such workspace)") from None
    try:
        try:
            fd = _openat2(root_fd, shown, open_flags, mode)
            if fd is None:
                fd = _walk(root_fd, parts, open_flags, mode)
        except BeneathError:
            raise
        except OSError as exc:
            raise _explain(exc, shown) from None
    finally:
        if not isinstance(root, int):
            os.close(root_fd)
    try:
        info = os.fstat(fd)
        if want_dir and not stat.S_ISDIR(info.st_mode):
            raise BeneathError(errno.ENOTDIR, f"{shown!r} is not a folder")
        if not want_dir and stat.S_ISDIR(info.st_mode):
            raise BeneathError(errno.EISDIR, f"{shown!r} is a folder, not a file")
        if not want_dir and not stat.S_ISREG(info.st_mode):
            raise BeneathError(errno.ENXIO, f"{shown!r} is not a regular file")
        if not want_dir and not flags & os.O_NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_beneath_bytes(root: int | str | os.PathLike[str], relpath: str | os.PathLike[str], *,
                       max_bytes: int | None = None, from_end: bool = False) -> bytes:
    """The bytes of one regular file beneath `root`, opened once with `open_beneath`.

    `max_bytes` caps what is read (a larger file raises, unless `from_end`: then its last `max_bytes` are read,
    which is how log tails are taken).
    """
    fd = open_beneath(root, relpath)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if max_bytes is not None and size > max_bytes:
            if not from_end:
                raise BeneathError(errno.EFBIG, f"{os.fspath(relpath)!r} is {size} bytes, more than the "
                                                f"{max_bytes} this server reads")
            handle.seek(size - max_bytes)
        data = handle.read(max_bytes if max_bytes is not None else -1)
    return data


def read_beneath_text(root: int | str | os.PathLike[str], relpath: str | os.PathLike[str], *,
                      max_bytes: int | None = None, from_end: bool = False, encoding: str = "utf-8",
                      errors: str = "replace") -> str:
    """`read_beneath_bytes` decoded (bad bytes replaced by default: an agent's file is data, never trusted)."""
    return read_beneath_bytes(root, relpath, max_bytes=max_bytes, from_end=from_end).decode(encoding, errors)


def is_beneath_path(relpath: str | os.PathLike[str]) -> bool:
    """Whether `relpath` is a well-formed relative path (no '..', not absolute, no NUL); opens nothing."""
    try:
        _components(relpath)
    except BeneathError:
        return False
    return True


def openat2_available() -> bool:
    """Whether this kernel resolved a probe with openat2 (else the O_NOFOLLOW walk is used)."""
    if _openat2_works is None:
        root = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = _openat2(root, ".", os.O_RDONLY | os.O_DIRECTORY | _BASE_FLAGS, 0)
        except OSError:
            fd = None
        finally:
            os.close(root)
        if fd is not None:
            os.close(fd)
    return bool(_openat2_works)
