#!/usr/bin/python3
"""How long a deleted user's token keeps working (the user cache's bound, 1 s).

Usage: deleted_user_probe.py BASE_URL DATABASE_URL [DELAY_SECONDS [READY_FILE]]

Registers a throwaway user, reads GET /orders/user/{id}/ a few times (so the api has
it cached), creates READY_FILE, waits DELAY_SECONDS, deletes the user in PostgreSQL,
then polls every 10 ms until the api answers 401. bench/run starts its cached-GET load
once READY_FILE exists (so the login's Argon2id memory is not part of that load's peak
RSS) and the deletion happens during it. Prints one JSON object:
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
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0
    ready = sys.argv[4] if len(sys.argv) > 4 else None
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
    if ready:
        open(ready, "w").close()
    time.sleep(delay)
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
