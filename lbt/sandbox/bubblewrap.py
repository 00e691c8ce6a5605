"""The strongest isolation: each run inside bubblewrap (`bwrap`, see bwrap(1)) when it is
installed and can create namespaces here.

The run gets a mount namespace of its own: the whole filesystem read-only, nothing of the
host's writable; private, size-capped tmpfs on /tmp and /dev/shm, gone with the run, its
working directory (`WORKDIR`) in the one on /tmp; a fresh /dev and /proc; its own network namespace (only a
loopback, nothing reaches out), pid namespace (every process it started dies with it: when
its first process exits, or when bwrap or its caller dies: `--die-with-parent`), ipc and uts
namespaces; a new session (no controlling terminal).

For a run with a leased uid (as root, see `isolation`), bwrap keeps CAP_SETUID/CAP_SETGID
only, so that the runner can still drop to that uid: a uid of its own is what bounds its
processes (root's are never counted). Otherwise bwrap also makes a user namespace (needs unprivileged user namespaces): RLIMIT_NPROC then
counts the processes of the run's namespace only, so a fork bomb is bounded there too.
Paths a run needs that the private tmpfs would hide (the runner, import folders, the
interpreter under /tmp) are bound back read-only.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

PRIVATE_TMPFS = ("/tmp", "/dev/shm")  # world-writable folders that get a tmpfs of the run's own
NAMESPACES = ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts")
ROOT_CAPS = ("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")  # for the runner's drop to the leased uid
MODES = ("auto", "bubblewrap", "namespaces")
WORKDIR = Path("/tmp/lbt-sandbox-run")  # inside the run's private /tmp: nothing to create or remove on the host


def bwrap_path() -> str | None:
    """The bwrap executable on PATH (`LBT_SANDBOX_BWRAP` overrides; empty: none)."""
    chosen = os.environ.get("LBT_SANDBOX_BWRAP")
    return (chosen or None) if chosen is not None else shutil.which("bwrap")


def bwrap_args(drop_uid: bool, tmp_mb: int, reveal: Iterable[str] = ()) -> list[str]:
    """bwrap's options for one run in WORKDIR (the command follows them)."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for folder in PRIVATE_TMPFS:
        args += ["--perms", "1777", "--size", str(tmp_mb << 20), "--tmpfs", folder]
    for path in _hidden(reveal):
        args += ["--ro-bind", path, path]
    args += ["--perms", "0777", "--dir", str(WORKDIR), "--chdir", str(WORKDIR), *NAMESPACES]
    args += [*ROOT_CAPS] if drop_uid else ["--unshare-user"]
    return args + ["--die-with-parent", "--new-session", "--"]


def _hidden(paths: Iterable[str]) -> list[str]:
    """Those of `paths` (resolved, existing) that lie under a private tmpfs."""
    found = []
    for path in dict.fromkeys(os.path.realpath(p) for p in paths):
        if os.path.exists(path) and any(path.startswith(folder + "/") for folder in PRIVATE_TMPFS):
            found.append(path)
    return found


@functools.cache
def bwrap_works(drop_uid: bool) -> bool:
    """True when bwrap is installed and can set up a run's namespaces here, for runs that drop
    to a leased uid (bwrap run as root) or not (tried once each)."""
    bwrap = bwrap_path()
    if bwrap is None:
        return False
    try:
        done = subprocess.run([bwrap, *bwrap_args(drop_uid, 1), "true"], stdin=subprocess.DEVNULL, cwd="/",
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def use_bubblewrap(mode: str, drop_uid: bool) -> bool:
    """Whether runs use bubblewrap under `mode` ("auto": when it works here, "bubblewrap":
    always, an error where it does not work, "namespaces": never, today's fallback)."""
    if mode not in MODES:
        raise ValueError(f"Unknown sandbox isolation {mode!r}; use one of {', '.join(MODES)}.")
    if mode == "namespaces":
        return False
    works = bwrap_works(drop_uid)
    if mode == "bubblewrap" and not works:
        raise RuntimeError("Sandbox isolation 'bubblewrap' was asked for, but bwrap is missing or cannot create "
                           "namespaces here (install the `bubblewrap` package).")
    return works
