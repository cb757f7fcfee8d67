# case: 14
# title: read /proc/1/environ and a host process's /proc entries
# tries: read /proc/1/environ, /proc/1/cmdline, every visible /proc/PID/environ, and the cmdline and
# tries: environ of the harness's victim process by its host pid
# means: no readable environ holds the supervisor's secret (the harness searches the output, which
# means: prints what was read) and the host pid does not exist inside (only sandbox pids do)
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import errno, os
from attacklib import contained, escaped, done, ename, victim_pid, visible_pids

secret_key = b"SANDRUN_ATTACK_SUPERVISOR_SECRET"
leaks = []
for p in visible_pids():
    try:
        env = open(f"/proc/{p}/environ", "rb").read()
    except OSError:
        continue
    # Print what we read: if the supervisor's secret is there, the harness
    # finds it in the output.
    shown = env.replace(b"\0", b" ")[:400]
    print(f"environ of {p}: {shown!r}")
    if secret_key in env:
        leaks.append(p)
(escaped if leaks else contained)("supervisor env in /proc", f"pids {leaks}" if leaks else "no readable environ holds it")
v = victim_pid()
try:
    cmd = open(f"/proc/{v}/cmdline", "rb").read()
except OSError as e:
    contained(f"host pid {v}", f"{ename(e.errno)}")
else:
    if b"sandrun-attack-victim-" in cmd:
        escaped(f"host pid {v}", f"cmdline {cmd[:60]!r}")
    else:
        contained(f"host pid {v}", "that pid number is a sandbox process, not the host's")
done()
