# case: 13
# title: list /proc
# tries: list every pid in /proc and read their command lines
# means: only the sandbox's own processes exist: a handful of pids, none of them the harness's host
# means: victim process (found by its command line) and none with the victim's host pid as a sibling
# expect-status: ok
# expect-contained: 2
# expect-stdout: ^DONE$
import os
from attacklib import contained, escaped, done, visible_pids

pids = visible_pids()
(contained if len(pids) <= 16 else escaped)("pid count", f"{len(pids)} pids visible: {pids[:10]}")
marker = b"sandrun-attack-victim-"
seen = []
for p in pids:
    try:
        if marker in open(f"/proc/{p}/cmdline", "rb").read():
            seen.append(p)
    except OSError:
        pass
(escaped if seen else contained)("host victim visible", f"as pid {seen}" if seen else "not among the visible processes")
done()
