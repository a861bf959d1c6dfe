"""The README's "Try it" block works verbatim (issue 11, item 2): every command is run
with bash against a started api, with only its placeholders substituted (the address,
a fresh email and Idempotency-Key, the order id and user id the earlier commands
returned), and each comment's promise is checked."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

from conftest import REPO


def try_it_commands() -> list[tuple[str, str]]:
    """(command, comment) for each logical command of the block."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Try it\n\n```bash\n(.*?)```", text, re.S).group(1)
    commands, current = [], ""
    for line in block.splitlines():
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(current)
            current = ""
    out = []
    for c in commands:
        # a trailing "# …" comment (not a '#' inside quotes: the block has none there)
        m = re.match(r"^(.*?)\s+#\s(.*)$", c)
        out.append((m.group(1), m.group(2)) if m else (c, ""))
    return out


def http_status(output: str) -> int:
    return int(re.match(r"HTTP/1\.1 (\d{3})", output).group(1))


def json_body(output: str):
    head_end = re.search(r"\r?\n\r?\n", output) if output.startswith("HTTP/") else None
    return json.loads(output[head_end.end():] if head_end else output)


def test_readme_try_it_block_runs_verbatim(server):
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    key = f"k-{uuid.uuid4().hex}"
    shell_vars: dict[str, str] = {}
    order_id = user_id = None
    commands = try_it_commands()
    assert len(commands) >= 6, commands
    for command, comment in commands:
        cmd = command.replace("ada@example.com", email).replace("'Idempotency-Key: k1'",
                                                                 f"'Idempotency-Key: {key}'")
        if cmd.startswith("B="):
            shell_vars["B"] = server.url  # the address placeholder
            continue
        if order_id:
            cmd = cmd.replace("<id>", order_id)
        if user_id:
            cmd = cmd.replace("/orders/user/1/", f"/orders/user/{user_id}/")
        assignment = re.match(r"^([A-Z_]+)=\$\(", cmd)
        script = "".join(f"{k}={json.dumps(v)}\n" for k, v in shell_vars.items()) + cmd
        if assignment:
            script += f'\nprintf %s "${assignment.group(1)}"'
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{command}\n{r.stderr}"
        out = r.stdout
        if assignment:
            shell_vars[assignment.group(1)] = out
            assert out, f"{command} set nothing"
            continue
        if "/register/" in cmd:
            user_id = json_body(out)["id"]
            assert json_body(out)["email"] == email
        expected = re.match(r"(\d{3})\b", comment)
        if expected:
            assert http_status(out) == int(expected.group(1)), f"{command}\n{out}"
        if "POST $B/orders/" in command:
            body = json_body(out)
            order_id = body["id"]
            if "total_price 0.3" in comment:
                assert body["total_price"] == 0.3, out
        if "X-Cache: HIT" in comment:
            assert re.search(r"(?im)^x-cache: HIT", out), out
        if '"status":"PAID"' in comment:
            assert json_body(out)["status"] == "PAID", out
        if "newest first" in comment:
            assert [o["id"] for o in json_body(out)] == [order_id], out
    assert order_id and user_id
