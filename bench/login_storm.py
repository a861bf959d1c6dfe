#!/usr/bin/env /usr/bin/python3
"""Login storm vs. unrelated requests (issue 8): the p99 of cached GET /orders/{id}/ from
one client, idle and while 64 clients log in as fast as they can, as a ratio. Also the
share of logins answered 503 (bounded hashing queue) and the slowest login answer.

usage: bench/login_storm.py BASE_URL EMAIL PASSWORD [SECONDS]
Prints one JSON object. Needs a running api (rate limiting off)."""

import json
import multiprocessing
import sys
import threading
import time

import requests


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))] * 1000


def run_storm(base, email, password, seconds, results):
    stop = time.monotonic() + seconds
    logins, lock = [], threading.Lock()

    def one_client():
        c = requests.Session()
        while time.monotonic() < stop:
            t0 = time.monotonic()
            r = c.post(f"{base}/token/", data={"username": email, "password": password}, timeout=30)
            with lock:
                logins.append((r.status_code, time.monotonic() - t0))

    threads = [threading.Thread(target=one_client) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(logins)


def main():
    base, email, password = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10
    s = requests.Session()
    token = s.post(f"{base}/token/", data={"username": email, "password": password}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    order = s.post(f"{base}/orders/", json={"items": [{"product_id": 1, "quantity": 1, "price": 1}]},
                   headers=auth).json()["id"]

    def reads(duration):
        out, end = [], time.monotonic() + duration
        while time.monotonic() < end:
            t0 = time.monotonic()
            s.get(f"{base}/orders/{order}/", headers=auth)
            out.append(time.monotonic() - t0)
        return out

    idle = reads(seconds / 2)
    # The storm runs in another process: its 64 client threads must not share this
    # process' interpreter lock with the reader being measured.
    results = multiprocessing.Queue()
    storm = multiprocessing.Process(target=run_storm, args=(base, email, password, seconds, results))
    storm.start()
    time.sleep(1)
    busy = reads(seconds - 2)
    logins = results.get()
    storm.join()
    ok = sum(1 for c, _ in logins if c == 200)
    print(json.dumps({
        "get_p99_idle_ms": round(p99(idle), 2),
        "get_p99_storm_ms": round(p99(busy), 2),
        "get_p99_ratio": round(p99(busy) / p99(idle), 2),
        "logins_per_s": round(ok / seconds, 1),
        "logins_503_share": round(sum(1 for c, _ in logins if c == 503) / max(1, len(logins)), 3),
        "slowest_login_s": round(max(d for _, d in logins), 2),
        "other_statuses": sorted({c for c, _ in logins} - {200, 503}),
    }))


if __name__ == "__main__":
    main()
