#!/usr/bin/python3
"""bench/run's report: targets table, docs/benchmarks.md and docs/images/benchmarks.png.

Usage: report.py RESULTS_DIR MARKDOWN PNG

RESULTS_DIR holds one file per measurement written by bench/run (`put KEY VALUE`: a
number, a JSON string or a JSON object). Prints the report (markdown) on stdout, writes
MARKDOWN (keeping its "## Login storm" section, measured by bench/login_storm.py, as it
is) and draws PNG with gnuplot.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

KEEP_SECTION = "## Login storm"


def load(results_dir):
    r = {}
    for name in os.listdir(results_dir):
        with open(os.path.join(results_dir, name)) as f:
            text = f.read().strip()
        try:
            r[name] = json.loads(text)
        except ValueError:
            r[name] = text
    return r


def fmt(x, digits=1):
    if x is None:
        return "–"
    if isinstance(x, (int, float)):
        return f"{x:.{digits}f}" if isinstance(x, float) and digits else f"{round(x)}"
    return str(x)


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def curve(r, kind):
    rows = []
    for key in r:
        if key.startswith(f"curve_{kind}_"):
            rows.append((int(key.rsplit("_", 1)[1]), r[key]))
    return sorted(rows)


# A setting that weakens commit durability: synchronous_commit off/local/remote_write.
WEAK_COMMIT = re.compile(r"synchronous_commit\W{0,6}(off|local|remote_write|false|0)\b", re.I)
# Where that is allowed, and why: the relay's and the consumer's own sessions (a lost
# published_at only republishes; a lost inbox row only lets a republished event enqueue a
# no-op task), and the api's relay wake-up session, which commits nothing but a NOTIFY.
WEAK_COMMIT_ALLOWED = {
    "src/app/background_roles.cpp": "background roles, not the api",
    "src/db/relay_wakeup.cpp": "the api's NOTIFY-only wake-up session, no data",
}


def weak_commits(root="."):
    """file:line of every place in src/ and migrations/ that turns commit durability down."""
    found = []
    for top in ("src", "migrations"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                path = os.path.join(d, n)
                try:
                    with open(path, errors="replace") as f:
                        for i, line in enumerate(f, 1):
                            if WEAK_COMMIT.search(line):
                                found.append((os.path.relpath(path, root), i))
                except OSError:
                    pass
    return found


CPU_COLUMNS = ("order-service", "PostgreSQL", "RabbitMQ", "Redis")


def busy(r, key):
    """' (cores N % busy)' for a measurement whose CPU use bench/run recorded, else ''."""
    cpu = r.get(f"cpu_{key}")
    return f" (cores {cpu['busy_pct']:.0f} % busy)" if cpu else ""


def cpu_row(label, cpu, run):
    """A row of the CPU table: wall time, busy %, and each group's share of the machine (%)."""
    capacity = cpu["capacity_s"]
    groups = cpu["groups_s"]
    loadgen = run.get("cpu_s", 0.0)  # it exited before the second snapshot: its own figure
    rest = max(cpu["busy_s"] - sum(groups.values()) - loadgen, 0.0)
    share = lambda s: f"{pct(s, capacity):.0f}"  # noqa: E731
    cells = [share(groups.get(g, 0.0)) for g in CPU_COLUMNS]
    cells += [share(loadgen), share(groups.get("kernel threads", 0.0)), share(groups.get("other", 0.0) + rest)]
    return f"| {label} | {cpu['wall_s']:.1f} | **{cpu['busy_pct']:.0f}** | " + " | ".join(cells) + " |"


def errors(run):
    return run["non2xx"] + run["socket_errors"] + run["timeouts"] + run["unanswered"]


def overload_steps(r):
    return sorted((int(k.rsplit("_", 1)[1]), r[k]) for k in r
                  if re.fullmatch(r"overload_\d+", k) and isinstance(r[k], dict))


def overload_target(r):
    """(measured text, met) for POST at the highest overload step, or None when not run."""
    steps = overload_steps(r)
    if not steps or "wrk_post" not in r:
        return None
    top, run = steps[-1]
    ratio = pct(run["goodput"], r["wrk_post"]["rps"])
    bad = run["non2xx"] - run["status_503"]
    text = (f"{ratio:.0f} % ({run['goodput']:.0f} / {r['wrk_post']['rps']}/s; 503 p99 "
            f"{run['refused_latency_ms']['p99']:.1f} ms, 201 p99 {run['ok_latency_ms']['p99']:.0f} ms"
            + (f", {bad} other non-2xx" if bad else "") + ")" + busy(r, f"overload_{top}"))
    return text, ratio >= 90 and bad == 0


def overload_section(r):
    """The "## Overload" section (markdown lines) from bench/run's overload_* results."""
    steps = overload_steps(r)
    if not steps:
        return []
    out = []
    w = out.append
    post_max = r["wrk_post"]["rps"]
    top, top_run = steps[-1]
    w("## Overload: POST beyond its maximum")
    w("")
    w(f"`bench/loadgen` offers POST /orders/ at a constant rate from {top_run['connections']} keep-alive "
      f"connections; each client gives a request up after {r.get('overload_timeout', 1)} s (time-out: "
      "the connection is closed and reopened). Goodput: 201s answered within that time-out of their "
      f"intended send time, per second. Rates in % of the maximum measured above ({post_max}/s, wrk, "
      f"{r['meta']['connections'] if 'meta' in r else 64} connections); {top_run['duration_s']:.0f} s at "
      f"{top} %, shorter steps below it. The excess is refused by the api's bounds (HTTP_MAX_IN_FLIGHT, "
      "POSTGRES_POOL_MAX_WAITERS, POSTGRES_POOL_MAX_WAIT_SECONDS; docs/architecture.md, \"Overload\"): "
      "503 + Retry-After, latency from the actual send. Refusals by reason from `http_shed_total`. "
      "The machine was shared with other agents' builds: ratios in one run.")
    w("")
    w("| % of max | offered /s | goodput /s | goodput / max | 201 p50 ms | 201 p99 ms | 503s | 503 p50 ms "
      "| 503 p99 ms | time-outs | other errors | refused: in flight / queue full / queue wait | cores busy % |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for p, run in steps:
        shed = r.get(f"overload_shed_{p}", {})
        cpu = r.get(f"cpu_overload_{p}")
        other = run["non2xx"] - run["status_503"] + run["socket_errors"]
        busy_pct = f"{cpu['busy_pct']:.0f}" if cpu else "–"
        w(f"| {p} | {run['target_rate']:.0f} | {run['goodput']:.0f} | {pct(run['goodput'], post_max):.0f} % "
          f"| {run['ok_latency_ms']['p50']:.1f} | {run['ok_latency_ms']['p99']:.1f} | {run['status_503']} "
          f"| {run['refused_latency_ms']['p50']:.2f} | {run['refused_latency_ms']['p99']:.2f} | {run['timeouts']} "
          f"| {other} | {shed.get('in_flight', 0)} / {shed.get('queue_full', 0)} / {shed.get('queue_wait', 0)} "
          f"| {busy_pct} |")
    w("")
    health, after = r.get("overload_health"), r.get("overload_after")
    if health:
        w(f"During the {top} % step, /health at {health['target_rate']:.0f}/s (8 connections): "
          f"{health['ok']} of {health['scheduled']} answered 200, {health['non2xx']} other, "
          f"{health['timeouts']} time-outs, p99 {health['latency_ms']['p99']:.1f} ms (never shed).")
    if after:
        w(f"Right after it, {after['target_rate']:.0f}/s (50 %) for {after['duration_s']:.0f} s on "
          f"{after['connections']} connections: {after['ok']} 201 of {after['scheduled']}, "
          f"{after['status_503']} 503, p99 {after['latency_ms']['p99']:.1f} ms (throughput back at once).")
    if "api_rss_overload" in r:
        w(f"Peak RSS of the api during the overload steps: {r['api_rss_overload']} MiB.")
    w("")
    return out


def main():
    results_dir, md_path, png_path = sys.argv[1:4]
    r = load(results_dir)
    meta = r["meta"]
    health, get, post = r["wrk_health"], r["wrk_get"], r["wrk_post"]
    pg = r["pgbench_tps"]
    probe = r["deleted_user"]
    hops = r["pipeline_hops"]
    pload = r["pipeline_load"]
    get_curve, post_curve = curve(r, "get"), curve(r, "post")
    at50 = {k: dict(c).get(50) for k, c in (("get", get_curve), ("post", post_curve))}
    idle = r["all_rss_idle"]
    loaded = max(r["all_rss_pipeline"], r["all_rss_get"], r["all_rss_post"])
    weak = weak_commits()
    weak_api = [f"{p}:{i}" for p, i in weak if p not in WEAK_COMMIT_ALLOWED]
    weak_text = ", ".join(f"{p}:{i}" + (f" ({WEAK_COMMIT_ALLOWED[p]})" if p in WEAK_COMMIT_ALLOWED else "") for p, i in weak) or "nowhere"
    durable = r["synchronous_commit"] == "on" and r["fsync"] == "on" and not weak_api

    png_ok = draw(r, get_curve, post_curve, png_path)

    def clean(run):  # the rate was actually offered and answered without errors
        return run is not None and errors(run) == 0 and run["achieved_rate"] >= 0.98 * run["target_rate"]

    targets = []  # (number, target, measured, met)
    t = lambda *row: targets.append(row)  # noqa: E731
    def wrk_errors(run):
        return f", {run['errors']} errors" if run.get("errors") else ""

    t(1, "cached authorized GET ≥ 45 % of GET /health (req/s, wrk)",
      f"{pct(get['rps'], health['rps']):.0f} % ({get['rps']} / {health['rps']}{wrk_errors(get)})",
      get["rps"] >= 0.45 * health["rps"] and not get.get("errors"))
    refused = probe.get("refused_after_s")
    t(1, "a deleted user is refused within 1 s (probed during the GET load)",
      "probe failed" if refused is None else f"{refused * 1000:.0f} ms", refused is not None and refused <= 1.0)
    t(2, f"POST /orders/ ≥ 90 % of pgbench, the api's insert statement, {meta['connections']} connections",
      f"{pct(post['rps'], pg):.0f} % ({post['rps']} / {pg}{wrk_errors(post)})",
      post["rps"] >= 0.90 * pg and not post.get("errors"))
    t(2, "durability: synchronous_commit on for the api (and fsync on)",
      f"server/role default {r['synchronous_commit']}, fsync {r['fsync']}; turned off in src/: {weak_text}",
      durable)
    for kind, name, limits in (("get", "cached GET", (("p99", 2), ("p999", 10))), ("post", "POST", (("p99", 20),))):
        run = at50[kind]
        for p, limit in limits:
            label = "p99.9" if p == "p999" else p
            if run is None:
                t(3, f"{name} at 50 % of its maximum: {label} < {limit} ms", "not measured", False)
                continue
            t(3, f"{name} at 50 % of its maximum ({run['target_rate']:.0f}/s): {label} < {limit} ms",
              f"{run['latency_ms'][p]:.2f} ms" + ("" if clean(run) else f" (errors {errors(run)}, "
                                                   f"achieved {run['achieved_rate']:.0f}/s)") + busy(r, f"curve_{kind}_50"),
              clean(run) and run["latency_ms"][p] < limit)
    rate_ok = pload["achieved_rate"] >= 0.98 * pload["target_rate"] and errors(pload) == 0
    t(4, f"pipeline at {meta['rate']} orders/s for {meta['rate_seconds']} s: commit → task start p50 < 3 ms",
      f"{hops['total'][0]:.1f} ms" + busy(r, "pipeline_load"), rate_ok and hops["total"][0] < 3)
    t(4, "commit → task start p99 < 15 ms", f"{hops['total'][1]:.1f} ms" + busy(r, "pipeline_load"), rate_ok and hops["total"][1] < 15)
    t(4, "per-hop p99 reported: commit → published / → consumer inbox / → task start",
      " / ".join(f"{hops[h][1]:.1f}" for h in ("relay", "broker", "worker")) + " ms", True)
    t(5, "order-service all idle (after start-up and warm-up) < 32 MiB RSS", f"{idle:.1f} MiB", idle < 32)
    t(5, "order-service all under the loads (pipeline, max GET, max POST) < 64 MiB peak RSS",
      f"{loaded:.1f} MiB", loaded < 64)
    t(6, "picture drawn: docs/images/benchmarks.png (gnuplot)", "yes" if png_ok else "no (gnuplot failed)", png_ok)
    if (ov := overload_target(r)) is not None:
        top, top_run = overload_steps(r)[-1]
        t(7, f"POST at {top} % of its maximum for {top_run['duration_s']:.0f} s, {top_run['connections']} "
          "connections, 1 s client time-out: goodput ≥ 90 % of the maximum, the excess a fast 503", *ov)

    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(f"Measured by `make bench` (`bench/run`) on {meta['date']}, one run of {int(meta['elapsed_s']) // 60} min, "
      f"{meta['cores']} cores shared by the load generators, the server, PostgreSQL, Redis and RabbitMQ "
      "(and whatever else runs on the machine" + (f"; load average {meta['loadavg']} when the run began"
                                                   if meta.get("loadavg") else "") + "). Absolute numbers depend on the machine; the targets "
      "are ratios and latencies measured in the same run. The api runs in its default configuration "
      "(user cache on, `AUTH_USER_CACHE_SECONDS=60`) with LOG_LEVEL=warning (no access log) and rate "
      "limiting off.")
    w("")
    w(f"Maximum throughput: wrk, closed loop, 2 threads, {meta['connections']} connections, {meta['seconds']} s "
      "per row. Latency at a fixed rate: `bench/loadgen` (bench/loadgen.cpp, built with the "
      "`ORDER_SERVICE_BENCH` CMake option), an open-loop generator: request *i* is due at "
      "t0 + i/rate over keep-alive connections and its latency is measured from that intended time, "
      "so a stall is charged to every request it delays (no coordinated omission; wrk's and "
      "`h2load --rps`'s latencies start when a request is actually sent, and h2load prints no "
      f"percentiles). {meta['curve_seconds']} s per rate, {meta['connections']} connections, one thread.")
    w("")
    w("![latency vs rate and throughput](images/benchmarks.png)")
    w("")
    w("Left and middle: latency (log scale) against the offered constant rate; dashed lines are the "
      "targets (GET p99 2 ms, red, and p99.9 10 ms, orange; POST p99 20 ms), the dotted line is 50 % of "
      "the measured maximum. Right: maximum throughput of each row of the table below (log scale).")
    w("")
    w("## Targets")
    w("")
    w("| # | target | measured | met |")
    w("|---|---|---:|:---:|")
    for n, target, measured, met in targets:
        w(f"| {n} | {target} | {measured} | {'yes' if met else '**no**'} |")
    w("")
    w("## Maximum throughput")
    w("")
    w("| what | req/s | p50 ms | p99 ms | errors |")
    w("|---|---:|---:|---:|---:|")
    w(f"| GET /health | {health['rps']} | {health['p50']:.2f} | {health['p99']:.2f} | {health.get('errors', 0)} |")
    w(f"| GET /orders/{{id}}/ (cached, authorized) | {get['rps']} | {get['p50']:.2f} | {get['p99']:.2f} | {get.get('errors', 0)} |")
    if "wrk_get_nocache" in r:
        nc = r["wrk_get_nocache"]
        w(f"| GET /orders/{{id}}/ with AUTH_USER_CACHE_SECONDS=0 (users query per request) | {nc['rps']} | "
          f"{nc['p50']:.2f} | {nc['p99']:.2f} | {nc.get('errors', 0)} |")
    w(f"| POST /orders/ (order + outbox row) | {post['rps']} | {post['p50']:.2f} | {post['p99']:.2f} | {post.get('errors', 0)} |")
    w(f"| pgbench, the api's insert statement (prepared, from pg_stat_activity), {meta['connections']} clients, `-j 2` | {pg} | | | |")
    w(f"| `order-service all`: GET /orders/{{id}}/ | {r['wrk_all_get']['rps']} | {r['wrk_all_get']['p50']:.2f} | "
      f"{r['wrk_all_get']['p99']:.2f} | {r['wrk_all_get'].get('errors', 0)} |")
    w(f"| `order-service all`: POST /orders/ (the pipeline runs in the same process) | {r['wrk_all_post']['rps']} | "
      f"{r['wrk_all_post']['p50']:.2f} | {r['wrk_all_post']['p99']:.2f} | {r['wrk_all_post'].get('errors', 0)} |")
    w("")
    w(f"Ratios: cached GET / health {pct(get['rps'], health['rps']):.0f} %, POST / pgbench "
      f"{pct(post['rps'], pg):.0f} %" + (f", GET without the user cache / health "
                                          f"{pct(r['wrk_get_nocache']['rps'], health['rps']):.0f} %"
                                          if "wrk_get_nocache" in r else "") + ". "
      f"Durability: synchronous_commit {r['synchronous_commit']}, fsync {r['fsync']} (as a new session of the "
      "api's role sees them). " + ("The deleted-user probe failed." if refused is None else
                                   "A deleted user's token was refused "
                                   f"{refused * 1000:.0f} ms after the DELETE committed, during the cached-GET "
                                   f"load ({probe['served_after_delete']} request(s) served in between; "
                                   "bench/deleted_user_probe.py)."))
    for kind, name, rows, maxrate in (("get", "cached GET /orders/{id}/", get_curve, get["rps"]),
                                      ("post", "POST /orders/", post_curve, post["rps"])):
        w("")
        w(f"## Latency vs rate: {name}")
        w("")
        w(f"Rates in % of the maximum measured above ({maxrate} req/s). \"send delay\": how late requests "
          "were sent (waiting for a free connection, i.e. for the server, plus the generator's own lag), "
          "included in the latency; \"generator lag\": the generator's own lateness alone (it shares the "
          "CPU). Errors: non-2xx, socket errors, time-outs and requests left unanswered at the end "
          "(not in the percentiles).")
        w("")
        w("| % of max | target /s | achieved /s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | "
          "send delay p99 ms | generator lag p99 ms | loadgen CPU s |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p, run in rows:
            lat = run["latency_ms"]
            w(f"| {p} | {run['target_rate']:.0f} | {run['achieved_rate']:.0f} | {lat['p50']:.2f} | {lat['p90']:.2f} | "
              f"{lat['p99']:.2f} | {lat['p999']:.2f} | {lat['max']:.1f} | {errors(run)} | "
              f"{run['send_lag_ms']['p99']:.2f} | {run.get('generator_lag_ms', {}).get('p99', 0):.2f} | "
              f"{run['cpu_s']:.2f} |")
    def percentiles(run):
        lat = run["latency_ms"]
        return f"p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, p99.9 {lat['p999']:.2f} ms"

    floor = r.get("curve_health_50")
    if floor:
        w("")
        w(f"The floor under the GET figures: the server's bare `GET /health` at the GET curve's 50 % rate "
          f"({floor['target_rate']:.0f}/s, same generator, connections and machine): {percentiles(floor)}, "
          f"send delay p99 {floor['send_lag_ms']['p99']:.2f} ms, "
          f"generator lag p99 {floor.get('generator_lag_ms', {}).get('p99', 0):.2f} ms, {errors(floor)} errors.")
    own = r.get("curve_health_own_50")
    if own:
        w("")
        w(f"The same rule applied to the cheapest request: `GET /health` at 50 % of its own maximum "
          f"({own['target_rate']:.0f}/s): {percentiles(own)}{busy(r, 'curve_health_own_50')}, {errors(own)} errors. "
          "This is target 3's rule for the request with the least work in it: at the same share of its "
          "maximum, a costlier request keeps the cores about as busy, with more work per request to queue behind.")
    w("")
    out += overload_section(r)
    w("## Event pipeline (`order-service all`, PROCESS_ORDER_DELAY_SECONDS=0)")
    w("")
    w(f"POST /orders/ at {meta['rate']} orders/s for {meta['rate_seconds']} s (bench/loadgen, 16 connections: "
      f"achieved {pload['achieved_rate']:.0f}/s, {errors(pload)} errors, HTTP p99 {pload['latency_ms']['p99']:.2f} ms), "
      f"{hops['n']} orders; times from the database (orders.created_at, outbox_events.published_at, "
      "inbox_events.received_at, task_runs.started_at).")
    w("")
    w("| hop | p50 ms | p99 ms |")
    w("|---|---:|---:|")
    for key, label in (("total", "commit → task start"), ("relay", "commit → published (relay)"),
                       ("broker", "published → consumer inbox"), ("worker", "inbox → task start (worker)")):
        w(f"| {label} | {hops[key][0]:.1f} | {hops[key][1]:.1f} |")
    w("")
    w("| throughput | orders/s |")
    w("|---|---:|")
    w(f"| `order-service all` under a wrk POST burst ({r['burst_orders']} orders), created → processed | "
      f"{r['burst_rate']} ({pct(r['burst_rate'], post['rps']):.0f} % of POST alone) |")
    w(f"| pipeline roles alone (one relay, consumer, worker process) draining a backlog of "
      f"{r['backlog_orders']} orders | {r['drain_rate']} ({pct(r['drain_rate'], post['rps']):.0f} % of POST) |")
    w("")
    cpu_rows = [(f"cached GET at {p} % of its maximum", f"curve_get_{p}", run) for p, run in get_curve]
    cpu_rows += [(f"GET /health at the GET curve's 50 % rate", "curve_health_50", floor)] if floor else []
    cpu_rows += [(f"GET /health at 50 % of its own maximum", "curve_health_own_50", own)] if own else []
    cpu_rows += [(f"POST at {p} % of its maximum", f"curve_post_{p}", run) for p, run in post_curve]
    cpu_rows += [(f"pipeline, POST at {meta['rate']}/s to `order-service all`", "pipeline_load", pload)]
    cpu_rows = [(label, r[f"cpu_{key}"], run) for label, key, run in cpu_rows if f"cpu_{key}" in r]
    if cpu_rows:
        w("## Where the CPU went")
        w("")
        w(f"During each fixed-rate load above: how busy the machine's {meta['cores']} cores were (/proc/stat: user, "
          "system, interrupts, steal), and each group's share of their capacity, in % (/proc/PID/stat; "
          "bench/cpu_usage.py). \"loadgen\" is the generator's own figure; \"other\" includes what no process was "
          "charged for (interrupt work, processes that exited). The two sources count differently (the cores' "
          "time in ticks, each process's own), so the shares can add up to a few % more or less than \"busy\". A fixed-rate latency target needs idle cores: "
          "a request that becomes ready while both are busy waits for one.")
        w("")
        w("| load | s | busy % | order-service | PostgreSQL | RabbitMQ | Redis | loadgen | kernel threads | other |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, cpu, run in cpu_rows:
            w(cpu_row(label, cpu, run))
        w("")
    w("## Memory (RSS, MiB)")
    w("")
    w("Peaks are VmHWM, reset (`/proc/PID/clear_refs`) at the start of each phase. The loads contain no "
      "logins: a registration or login hashes with Argon2id at libsodium's interactive limits (64 MiB), so "
      "a process that serves one peaks about 64 MiB higher for a moment (the deleted-user probe logs in "
      "before the GET load's peak is reset).")
    w("")
    w("| process, phase | RSS MiB |")
    w("|---|---:|")
    w(f"| `order-service all` just started | {r['all_rss_started']:.1f} |")
    w(f"| `order-service all` idle after start-up and a {meta['rate']}/s warm-up | {idle:.1f} |")
    w(f"| `order-service all` peak, pipeline at {meta['rate']}/s | {r['all_rss_pipeline']:.1f} |")
    w(f"| `order-service all` peak, wrk GET | {r['all_rss_get']:.1f} |")
    w(f"| `order-service all` peak, wrk POST burst and its processing | {r['all_rss_post']:.1f} |")
    for key, label in (("api_rss_health", "wrk /health"), ("api_rss_get", "wrk GET"), ("api_rss_post", "wrk POST"),
                       ("api_rss_curve_get", "GET latency curve"), ("api_rss_curve_post", "POST latency curve")):
        w(f"| `order-service api` peak, {label} | {r[key]:.1f} |")
    report = "\n".join(out) + "\n"
    print(report)
    met = sum(1 for row in targets if row[3])
    print(f"targets met: {met} of {len(targets)}")

    kept = ""
    if os.path.exists(md_path):
        with open(md_path) as f:
            old = f.read()
        i = old.find(KEEP_SECTION)
        if i >= 0:
            kept = "\n" + old[i:]
    with open(md_path, "w") as f:
        f.write(report + kept)


def draw(r, get_curve, post_curve, png_path):
    """Latency vs achieved rate (log scale) for GET and POST, and throughput bars."""
    tmp = tempfile.mkdtemp(prefix="bench-plot-")
    files = {}
    for kind, rows in (("get", get_curve), ("post", post_curve)):
        path = os.path.join(tmp, f"{kind}.dat")
        with open(path, "w") as f:
            for p, run in rows:
                lat = run["latency_ms"]
                f.write(f"{run['target_rate']:.1f} {max(lat['p50'], 0.01)} {max(lat['p99'], 0.01)} "
                        f"{max(lat['p999'], 0.01)} {p}\n")
        files[kind] = path
    bars = [("GET /health", r["wrk_health"]["rps"]), ("GET cached", r["wrk_get"]["rps"])]
    if "wrk_get_nocache" in r:
        bars.append(("GET, user cache off", r["wrk_get_nocache"]["rps"]))
    bars += [("POST /orders/", r["wrk_post"]["rps"]), ("pgbench insert", r["pgbench_tps"]),
             ("all: GET", r["wrk_all_get"]["rps"]), ("all: POST", r["wrk_all_post"]["rps"]),
             ("pipeline drain", r["drain_rate"])]
    bars_path = os.path.join(tmp, "bars.dat")
    with open(bars_path, "w") as f:
        for i, (label, v) in enumerate(bars):
            f.write(f'{i} "{label}" {v}\n')
    get50 = dict(get_curve).get(50)
    post50 = dict(post_curve).get(50)

    def vline(run):
        return (f"set arrow from first {run['target_rate']}, graph 0 to first {run['target_rate']}, graph 1 "
                "nohead dt 3 lc rgb 'gray40'\n") if run else ""

    script = f"""
set terminal pngcairo size 1500,540 font 'DejaVu Sans,10' noenhanced
set output '{png_path}'
set multiplot layout 1,3 title 'order-service, bench/run {r["meta"]["date"]} ({r["meta"]["cores"]} shared cores)'
set grid
set logscale y
set key top left
set xlabel 'offered rate (req/s, constant)'
set ylabel 'latency from intended send (ms)'
set format y '%g'
set format x '%.0s%c'
set xrange [0:*]
set title 'cached GET /orders/{{id}}/ (open loop)'
unset arrow
set arrow from graph 0, first 2 to graph 1, first 2 nohead dt 2 lc rgb 'red'
set arrow from graph 0, first 10 to graph 1, first 10 nohead dt 2 lc rgb 'orange'
{vline(get50)}
plot '{files["get"]}' using 1:2 with linespoints pt 7 title 'p50', \\
     '' using 1:3 with linespoints pt 5 title 'p99', \\
     '' using 1:4 with linespoints pt 9 title 'p99.9'
set title 'POST /orders/ (open loop)'
unset arrow
set arrow from graph 0, first 20 to graph 1, first 20 nohead dt 2 lc rgb 'red'
{vline(post50)}
plot '{files["post"]}' using 1:2 with linespoints pt 7 title 'p50', \\
     '' using 1:3 with linespoints pt 5 title 'p99', \\
     '' using 1:4 with linespoints pt 9 title 'p99.9'
unset arrow
set title 'maximum throughput (wrk, pgbench; log scale)'
set autoscale x
set format x '%g'
set xlabel ''
set ylabel 'req/s'
set style fill solid 0.7
set boxwidth 0.7
set xtics rotate by -35 left
set yrange [100:*]
set xrange [-0.6:{len(bars) - 0.4}]
unset key
plot '{bars_path}' using 1:3:xtic(2) with boxes lc rgb '#4477aa', \\
     '' using 1:3:(sprintf('%d', $3)) with labels offset 0,0.7 font ',9' noenhanced
unset multiplot
"""
    os.makedirs(os.path.dirname(png_path) or ".", exist_ok=True)
    try:
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"gnuplot: {e}", file=sys.stderr)
        return False
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--overload":  # bench/run BENCH_ONLY=overload
        print("\n".join(overload_section(load(sys.argv[2]))))
    else:
        main()
