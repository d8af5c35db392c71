"""What a save killed mid-write leaves: a temporary named as atomic_write
names its own, belonging to a process that is no longer alive."""
import subprocess
import sys

from embforge.io.atomic import _HOST


def dead_pid() -> int:
    """The pid of a process that has exited and been collected."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def stale_temp_name(name: str, pid=None, host: str = _HOST) -> str:
    """The temporary file name a save of `name` by process `pid` (default:
    a dead one) of `host` uses."""
    return f".{name}.{host}-{dead_pid() if pid is None else pid}.0badc0de.tmp"
