"""What the parent does to keep runs apart: unprivileged uids leased one per concurrent run,
and the sweep that kills every process of a uid after its run.

A run's child drops to a uid of its own (only root can; elsewhere runs keep the caller's uid
and `user_isolated` is false). A uid of its own is what makes the rest work without cgroups:
RLIMIT_NPROC counts that uid's processes only (a fork bomb hits its own ceiling); the program
cannot signal the caller (another uid), cannot read or write the caller's files (mode 0700
folders, /etc) and cannot see its environment in /proc; and at the end `kill(-1, SIGKILL)`
issued as that uid reaches every process the program started, daemons in new sessions
included, and `sweep_files` removes what it wrote in /tmp, /dev/shm and the like (runs under
bubblewrap get private ones instead, see bubblewrap.py). Leases are `flock`s on files under a shared lock folder, so pools in other processes
on the machine never get the same uid at the same time; a crashed holder's lock is released by
the kernel.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

UID_BASE = 200_000  # far above the uids distributions hand out
UID_COUNT = 4096
LOCK_DIR = Path(tempfile.gettempdir()) / "lbt-sandbox-uids"


def can_switch_uid() -> bool:
    """True when this process may run children under other uids (root with CAP_SETUID)."""
    return os.geteuid() == 0


class UidLease:
    """One uid held (by an exclusive flock) until `release`."""

    def __init__(self, uid: int, handle: int) -> None:
        self.uid, self._handle = uid, handle

    def release(self) -> None:
        if self._handle >= 0:
            os.close(self._handle)  # closing drops the flock
            self._handle = -1


def lease_uid(start: int | None = None) -> UidLease:
    """The first free uid from `start` on (a random place in the range by default), with
    nothing of a previous holder's left running or in the temporary folders."""
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    offset = start if start is not None else int.from_bytes(os.urandom(2), "big") % UID_COUNT
    for step in range(UID_COUNT):
        uid = UID_BASE + (offset + step) % UID_COUNT
        handle = os.open(LOCK_DIR / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        sweep_uid(uid)  # what a holder that died mid-run left behind
        sweep_files(uid)
        return UidLease(uid, handle)
    raise RuntimeError(f"All {UID_COUNT} sandbox uids from {UID_BASE} are leased; too many runs at once.")


def sweep_uid(uid: int, wait_s: float = 2.0) -> bool:
    """Kill every process of `uid`, when any is left (`kill -KILL -1` run as that uid: one call
    reaches them all, and a fork bomb cannot outrun it since only that uid's processes make more
    of them), and wait up to `wait_s` until none is left, so the next run on this uid starts
    from zero processes. True when none is left."""
    deadline = time.monotonic() + wait_s
    while processes_of(uid):  # most runs leave none: the runner killed them (or its pid namespace is gone)
        subprocess.run(["kill", "-KILL", "--", "-1"], user=uid, group=uid, extra_groups=[],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if not processes_of(uid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def processes_of(uid: int) -> list[int]:
    """Live process ids owned by `uid` (/proc/<pid> belongs to the process's effective uid).
    Zombies are left out: they run nothing, and the init process reaps them in its own time
    (here within about 2 s); until then they count against the uid's RLIMIT_NPROC."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
                with open(f"/proc/{name}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                found.append(int(name))
    return found


WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def sweep_files(uid: int) -> int:
    """Remove what `uid` left at the top of the world-writable temporary folders (the only
    places of the host's a leased uid can write outside its working directory, short of a
    world-writable folder further down); the number of entries removed. Run after `sweep_uid`,
    so nothing of the uid is still writing."""
    removed = 0
    for folder in dict.fromkeys((*WORLD_WRITABLE, tempfile.gettempdir())):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        removed += sum(_remove_if_owned(entry, uid) for entry in entries)
    return removed


def _remove_if_owned(entry: os.DirEntry, uid: int) -> bool:
    """Remove `entry` (a folder with all it holds) when `uid` owns it; True when removed."""
    try:
        if entry.stat(follow_symlinks=False).st_uid != uid:
            return False
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    except OSError:
        return False
    return True


def make_workdir(uid: int | None) -> Path:
    """A fresh private working directory, owned by the run's uid when it has one."""
    path = Path(tempfile.mkdtemp(prefix="lbt-sandbox-"))
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def world_readable(path: Path) -> bool:
    """True when every folder on the way to `path` lets others in and `path` lets them read."""
    path = Path(path).resolve()
    folders_ok = all(os.stat(p).st_mode & 0o001 for p in path.parents)
    return folders_ok and bool(os.stat(path).st_mode & 0o004)


def sandbox_python(switch_uid: bool) -> str:
    """The interpreter runs use: `LBT_SANDBOX_PYTHON` when set; with uid switching, one whose
    standard library an unprivileged uid can read (the caller's own when it can, else the
    system's /usr/bin/python3: e.g. a pyenv under /root is closed to other uids, and lazily
    imported modules such as `socket` would then be missing); else the caller's own."""
    chosen = os.environ.get("LBT_SANDBOX_PYTHON")
    if chosen:
        return chosen
    own = sys.executable
    if not switch_uid:
        return own
    stdlib = Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload"
    if world_readable(Path(own)) and world_readable(stdlib):
        return own
    for candidate in SYSTEM_PYTHONS:
        if Path(candidate).exists() and world_readable(Path(candidate)):
            return candidate
    return own


SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")


def sandbox_paths() -> list[str]:
    """Extra import folders for runs: `LBT_SANDBOX_PATH` (os.pathsep-separated) when set, else
    the caller's own site-packages when others can read them (so third-party modules the
    project installs, e.g. `sortedcontainers` for LeetCodeDataset, import in the sandbox)."""
    chosen = os.environ.get("LBT_SANDBOX_PATH")
    if chosen is not None:
        return [p for p in chosen.split(os.pathsep) if p]
    paths = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    return [p for p in paths if Path(p).is_dir() and world_readable(Path(p))]
