"""Child processes that die with their parent: batch workers and Jupyter kernels.

A batch killed with SIGKILL cannot clean up, so its children must notice by themselves:

- on Linux, each child asks the kernel to send it SIGKILL when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``, :func:`die_with_parent`);
- everywhere, a worker also runs a watchdog thread (:func:`start_watchdog`) that checks
  twice a second that its parent is still the same process; otherwise it kills its own
  children (its Jupyter kernels) and exits;
- a Jupyter kernel is launched through this module (:func:`guarded_command`:
  ``python -m ptsm_diag.report.lifeline PARENT_PID -- KERNEL COMMAND``), which arms the signal and
  then replaces itself with the kernel (same process). Elsewhere than on Linux the command
  is left as it is and ipykernel's own parent poller ends the kernel when its parent dies.

This module imports nothing heavy: it runs before every kernel start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_ON_LINUX = sys.platform.startswith("linux")


def die_with_parent(parent_pid: int) -> bool:
    """Have this process killed when its parent dies (Linux); exit now if it already has.

    Parameters
    ----------
    parent_pid : int
        Process id of the parent this process must not outlive.

    Returns
    -------
    bool
        True when the kernel will send SIGKILL at the parent's death (Linux only).
    """
    armed = False
    if _ON_LINUX:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    return armed


def kill_children() -> None:
    """Kill every descendant of this process (best effort; needs psutil)."""
    try:
        import psutil
    except ImportError:  # psutil comes with ipykernel; without it, nothing to list
        return
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()


def start_watchdog(parent_pid: int, interval: float = 0.5) -> threading.Thread:
    """Start a daemon thread that ends this process and its children when the parent
    changes (the parent died and this process was adopted by another).

    Parameters
    ----------
    parent_pid : int
        Process id of the parent.
    interval : float
        Seconds between two checks.
    """

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                kill_children()
                os._exit(1)

    thread = threading.Thread(target=watch, name="ptsm-lifeline", daemon=True)
    thread.start()
    return thread


def guard_worker(parent_pid: int) -> None:
    """Everything a worker process does so as not to outlive ``parent_pid``."""
    die_with_parent(parent_pid)
    start_watchdog(parent_pid)


def guarded_command(command: Sequence[str]) -> list[str]:
    """``command`` launched so that it dies with this process (Linux; unchanged elsewhere,
    where ``os.exec*`` does not keep the process id)."""
    if not _ON_LINUX:
        return list(command)
    return [sys.executable, "-m", "ptsm_diag.report.lifeline", str(os.getpid()), "--", *command]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ptsm_diag.report.lifeline PARENT_PID -- COMMAND...``: arm the parent-death
    signal, then become ``COMMAND`` (same process id)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage : python -m ptsm_diag.report.lifeline PID_PARENT -- COMMANDE...")
    die_with_parent(int(args[0]))
    command = args[2:]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
