#!/usr/bin/python3
"""Where the machine's CPU went during one measurement of bench/run.

Usage:
  cpu_usage.py snapshot FILE   record the machine's and every process's CPU time now
  cpu_usage.py diff FILE       print, as JSON, what was used since FILE was recorded

The machine's busy time comes from /proc/stat (user, nice, system, irq, softirq and steal
of every core); each process's from /proc/PID/stat (user + system), summed per group:
order-service, PostgreSQL, RabbitMQ, Redis, kernel threads and other. A process that
exited in between is not seen (bench/run's load generator reports its own CPU time), nor
is interrupt work charged to no process: bench/report.py shows that rest as unattributed.
"""
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
GROUPS = {
    "order-service": "order-service",
    "postgres": "PostgreSQL",
    "beam.smp": "RabbitMQ",
    "erl_child_setup": "RabbitMQ",
    "epmd": "RabbitMQ",
    "inet_gethost": "RabbitMQ",
    "redis-server": "Redis",
}


def machine():
    """(busy, total) seconds of all cores since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy / TICK, (busy + idle + iowait) / TICK


def processes():
    """{pid: [group, cpu seconds]} of every process now."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                has_cmdline = bool(f.read(1))
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        group = GROUPS.get(comm) or ("kernel threads" if not has_cmdline else "other")
        out[pid] = [group, (int(fields[11]) + int(fields[12])) / TICK]
    return out


def snapshot():
    busy, total = machine()
    return {"wall": time.monotonic(), "busy": busy, "total": total, "procs": processes()}


def diff(before, after):
    groups = {}
    for pid, (group, cpu) in after["procs"].items():
        old = before["procs"].get(pid)
        used = cpu - (old[1] if old and old[0] == group else 0.0)
        groups[group] = groups.get(group, 0.0) + used
    wall = after["wall"] - before["wall"]
    capacity = after["total"] - before["total"]  # core-seconds the machine had
    busy = after["busy"] - before["busy"]
    return {"wall_s": round(wall, 2), "cores": os.cpu_count(), "capacity_s": round(capacity, 2),
            "busy_s": round(busy, 2), "busy_pct": round(100.0 * busy / capacity, 1) if capacity else 0.0,
            "groups_s": {g: round(s, 2) for g, s in sorted(groups.items(), key=lambda kv: -kv[1])}}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("snapshot", "diff"):
        sys.exit(__doc__)
    command, path = sys.argv[1:]
    if command == "snapshot":
        with open(path, "w") as f:
            json.dump(snapshot(), f)
    else:
        with open(path) as f:
            before = json.load(f)
        print(json.dumps(diff(before, snapshot())))


if __name__ == "__main__":
    main()
