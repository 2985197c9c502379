"""Removing what a killed command left half-written beside its output.

Every command writes its output under a hidden temporary name beside the
final one and renames it when complete; Ctrl-C, SIGTERM and errors remove
it, but `kill -9` (or a power cut) cannot. The next run that writes the
same output removes such files, and only those: names of the command's own
temporary pattern that carry the id of a process that is no longer running
and that no process holds open.
"""

import os
import re
import shutil


def process_alive(pid):
    """Whether process `pid` runs on this machine (True when unsure)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def _open_paths():
    """Real paths of the files the processes we can see hold open (Linux /proc)."""
    opened = set()
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return opened
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                opened.add(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                continue
    return opened


def remove_leftovers(folder, pattern, out=print):
    """Removes entries of `folder` whose names match `pattern` and are no one's.

    `pattern` is a compiled regex whose group "pid" (optional in the match)
    is the id of the process that made the entry: an entry of a running
    process is kept, and so is a file that some process holds open. Says
    in one line (through `out`) what it removed; returns the names.
    """
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    candidates = []
    for name in names:
        match = pattern.match(name)
        if not match:
            continue
        pid = match.groupdict().get("pid")
        if pid is not None and process_alive(int(pid)):
            continue
        candidates.append(name)
    if not candidates:
        return []
    opened = _open_paths()
    removed = []
    for name in candidates:
        path = os.path.join(folder, name)
        try:
            if os.path.islink(path):
                continue
            if os.path.isdir(path):
                inside = {os.path.realpath(os.path.join(path, n)) for n in os.listdir(path)}
                if inside & opened:
                    continue
                shutil.rmtree(path)
            else:
                if os.path.realpath(path) in opened:
                    continue
                os.remove(path)
        except OSError:
            continue
        removed.append(name)
    if removed:
        out(f"Removed what an interrupted run left in {folder}: {', '.join(removed)}")
    return removed


def pattern(prefix, suffix=""):
    """The temporary names `tempfile.mkstemp(prefix=PREFIX + f"{pid}-", suffix=SUFFIX)` makes.

    Also matches the same names without the pid, as written before it was
    part of them (kept while a process holds them open).
    """
    return re.compile(rf"^{re.escape(prefix)}(?:(?P<pid>\d+)-)?[a-z0-9_]{{8}}{re.escape(suffix)}$")
