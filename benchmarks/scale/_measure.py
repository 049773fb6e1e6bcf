"""What every ceiling benchmark shares: run one case in a child process and measure it.

``run_child(argv, env)`` starts the case, and while it runs samples, every 0.25 s, the resident
memory of the child and of every process below it (pool workers, Ray's raylet and workers,
Spark's JVM and its Python workers): ``peak_tree_mib`` is the largest sum of Pss seen, and for each
process its own peak (VmHWM, read while it lives) is kept, so the child's, the JVM's and
the largest worker's peaks are reported as well. The case prints one JSON line last; its
fields are returned with the memory figures and the load average at the start and end.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "results"
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stats() -> dict[int, tuple[int, int]]:
    """Every process's (parent id, session id)."""
    out: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        out[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return out


def _parents() -> dict[int, int]:
    return {pid: ppid for pid, (ppid, _) in _stats().items()}


def end_session(sid: int) -> list[int]:
    """Kill what is left of a case's session (a Ray node or a JVM that outlived its parent)."""
    left = [pid for pid, (_, s) in _stats().items() if s == sid]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
    return left


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _status(pid: int) -> tuple[int, int, str]:
    """(Pss, VmHWM) in KiB and the command's name. Pss (shared pages divided among the
    processes mapping them) is summed over the tree, so Ray's shared object store and
    copy-on-write pages of forked workers are not counted twice."""
    pss = hwm = 0
    name = ""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("Name:"):
                name = line.split(None, 1)[1].strip()
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
                break
    return pss, hwm, name


class TreeSampler(threading.Thread):
    def __init__(self, root: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peak_sum_kib = 0
        self.hwm: dict[int, tuple[int, str]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0
            for pid in descendants(self.root):
                try:
                    rss, hwm, name = _status(pid)
                except OSError:
                    continue
                total += rss
                if hwm >= self.hwm.get(pid, (0, ""))[0]:
                    self.hwm[pid] = (hwm, name)
            self.peak_sum_kib = max(self.peak_sum_kib, total)
            self.stop.wait(self.every)


def _last_json(out: str) -> dict[str, Any]:
    """The last JSON object printed: a line, or a document over several lines (the CLI's
    ``--json``), whatever an engine printed before it."""
    decoder = json.JSONDecoder()
    starts = [i for i in range(len(out)) if out[i] == "{" and (i == 0 or out[i - 1] == "\n")]
    for start in reversed(starts):
        try:
            value, _ = decoder.raw_decode(out, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError(f"no JSON object in the output: {out[-300:]!r}")


def run_child(
    argv: list[str], env: dict[str, str] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Run one case; its last stdout line is JSON. A case past ``timeout`` seconds is stopped
    (its whole process group) and reported as such."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    stopped = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stopped = True
        for pid in reversed(descendants(proc.pid)):
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        out, err = proc.communicate()
    sampler.stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    leftovers = end_session(proc.pid)
    result: dict[str, Any] = {}
    lines = [line for line in out.strip().splitlines() if line.startswith("{")]
    if stopped:
        result["stopped_after_s"] = round(wall, 1)
    elif proc.returncode != 0 or not lines:
        tail = err.strip().splitlines()[-15:]
        result["error"] = f"exit {proc.returncode}: " + " | ".join(tail)
    else:
        result.update(_last_json(out))
    procs = sampler.hwm
    child = procs.get(proc.pid, (0, ""))[0]
    jvm = max((kib for kib, name in procs.values() if name == "java"), default=0)
    others = sorted(
        ((kib, name) for pid, (kib, name) in procs.items() if pid != proc.pid and name != "java"),
        reverse=True,
    )
    result.update(
        wall_s=round(wall, 2),
        peak_tree_mib=sampler.peak_sum_kib // 1024,
        peak_child_mib=child // 1024,
        peak_jvm_mib=jvm // 1024 or None,
        peak_largest_other_mib=others[0][0] // 1024 if others else None,
        processes_seen=len(procs),
        leftover_processes_killed=len(leftovers),
        load_average_start=[round(x, 2) for x in load_before],
        load_average_end=[round(x, 2) for x in os.getloadavg()],
    )
    return result


def peak_self_mib() -> int:
    """This process's peak resident memory (VmHWM), in MiB."""
    return _status(os.getpid())[1] // 1024


def save(name: str, record: dict[str, Any]) -> Path:
    """Append ``record`` to benchmarks/results/<name>.json (a list of runs)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append(record)
    path.write_text(json.dumps(runs, indent=1) + "\n")
    return path


def base_env(extra_path: list[str] | None = None) -> dict[str, str]:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([*extra_path, env.get("PYTHONPATH", "")])
    return env
