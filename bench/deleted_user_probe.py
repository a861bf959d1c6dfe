#!/usr/bin/python3
"""How long a deleted user's token keeps working (the user cache's bound, 1 s).

Usage: deleted_user_probe.py BASE_URL DATABASE_URL [START_DELAY_SECONDS]

Registers a throwaway user, reads GET /orders/user/{id}/ a few times (so the api has
it cached), deletes the user in PostgreSQL, then polls every 10 ms until the api answers
401. bench/run runs it while the cached-GET load is on. Prints one JSON object:
refused_after_s (from the DELETE's commit to the first 401), served_after_delete (200s
seen after the commit), polls.
"""
import json
import sys
import time
import uuid

import psycopg2
import requests


def main():
    base, dsn = sys.argv[1], sys.argv[2]
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
    s = requests.Session()
    email = f"probe-{uuid.uuid4().hex[:12]}@example.com"
    r = s.post(f"{base}/register/", json={"email": email, "password": "benchmark-password"}, timeout=10)
    r.raise_for_status()
    uid = r.json()["id"]
    r = s.post(f"{base}/token/", data={"username": email, "password": "benchmark-password"}, timeout=10)
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    url = f"{base}/orders/user/{uid}/"
    for _ in range(3):
        assert s.get(url, headers=headers, timeout=10).status_code == 200
    db = psycopg2.connect(dsn)
    with db, db.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", (uid,))
    committed = time.monotonic()
    db.close()
    served, polls = 0, 0
    while True:
        status = s.get(url, headers=headers, timeout=10).status_code
        polls += 1
        elapsed = time.monotonic() - committed
        if status == 401:
            break
        if status != 200:
            sys.exit(f"unexpected status {status}")
        served += 1
        if elapsed > 10:
            break
        time.sleep(0.01)
    print(json.dumps({"refused_after_s": round(elapsed, 3), "served_after_delete": served, "polls": polls}))


if __name__ == "__main__":
    main()
