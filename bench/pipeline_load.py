#!/usr/bin/python3
"""Pipeline benchmark: create orders at a fixed rate, then measure commit -> task start.

Usage: pipeline_load.py BASE_URL TOKEN RATE SECONDS
Prints one JSON object: created, seconds, achieved rate. Latencies come from the database
(task_runs.started_at - orders.created_at), read by bench/run.
"""
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

BODY = {"items": [{"product_id": 1, "quantity": 1, "price": 9.99}]}


def main():
    base, token, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()
    failures = []

    def post():
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
        r = s.post(f"{base}/orders/", json=BODY, headers=headers, timeout=10)
        if r.status_code != 201:
            failures.append(r.status_code)

    total = int(rate * seconds)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(total):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post)
    elapsed = time.monotonic() - start
    print(json.dumps({"created": total - len(failures), "failed": len(failures),
                      "seconds": round(elapsed, 2), "rate": round(total / elapsed, 1)}))


if __name__ == "__main__":
    main()
