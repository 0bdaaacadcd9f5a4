"""CPU time and memory of the app's processes, read from /proc (Linux), for the benchmarks that
report where the machine's cores went beside their latencies (class_load, stroke_cost, train_in_app).

Roles: the server (`streamlit run app.py`), its training process (a `multiprocessing` child of the
server), Chromium (every browser process on the machine), and the benchmark itself (this process).
"""

import os
from pathlib import Path

ROLES = ("server", "training", "browsers", "generator")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each role (ROLES); other processes on the machine are left out."""
    used = dict.fromkeys(ROLES, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pid = int(entry.name)
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
            seconds = process_cpu_s(pid)
        except (OSError, IndexError):  # it ended meanwhile
            continue
        if pid == server_pid:
            used["server"] += seconds
        elif ppid == server_pid and b"multiprocessing" in command:
            used["training"] += seconds
        elif b"chromium" in command or b"chrome" in command:
            used["browsers"] += seconds
        elif pid == os.getpid():
            used["generator"] += seconds
    return used


def share_of_cores(before: dict[str, float], after: dict[str, float], wall_s: float) -> dict[str, float]:
    """Per role, the share of all the machine's cores it held between two cpu_by_role readings
    wall_s seconds apart: 0.5 is one core of two."""
    cores = os.cpu_count() or 1
    return {role: round((after[role] - before[role]) / (wall_s * cores), 3) for role in before}


def rss_mb(pid: int) -> float:
    """The process's resident memory now, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no VmRSS for pid {pid}")
