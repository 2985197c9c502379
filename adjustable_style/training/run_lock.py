"""One trainer per model folder: an advisory lock with the holder's name.

Two trainers writing the same `--model_dir` would write the same
checkpoint names, and whichever saved last would silently win. The lock is
`fcntl.flock` on `<model_dir>/train.lock`: the kernel drops it when its
holder dies, however it dies, so a lock left by a killed run is never
mistaken for a live one, and the next run takes it over. The file holds
the holder's PID and host, so that a refused run can say who holds it.
"""

import fcntl
import json
import os
import socket
import time

from adjustable_style.errors import UserError

LOCK_FILE = "train.lock"


class LockError(UserError, RuntimeError):
    """The model folder is in use by another trainer (one-line message)."""


def _read(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


class RunLock:
    """Held from `acquire()` until `release()` (or the process ends)."""

    def __init__(self, model_dir):
        self.path = os.path.join(model_dir, LOCK_FILE)
        self.fd = None
        self.previous = {}

    def acquire(self):
        """Takes the lock, or raises LockError naming its holder.

        Returns the record of a previous holder that ended without
        releasing it (a killed run), or {}.
        """
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                who = f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')}"
                raise LockError(
                    f"{os.path.dirname(self.path)} is in use by another "
                    f"train.py ({who}, since {holder.get('started', '?')}); "
                    "wait for it to finish, stop it, or choose another "
                    "--model_dir"
                ) from None
            except OSError:
                os.close(fd)
                raise
            # A releasing holder unlinks the file before unlocking it; a lock
            # on that unlinked file guards nothing, so open the path again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.previous = _read(fd)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())
        self.fd = fd
        return self.previous

    def stale_holder(self):
        """A line about the killed run whose lock was taken over, or None."""
        pid = self.previous.get("pid")
        if pid is None:
            return None
        return (
            f"Taking over the lock of PID {pid} on host "
            f"{self.previous.get('host', '?')}, which ended without "
            "releasing it"
        )

    def release(self):
        if self.fd is None:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
