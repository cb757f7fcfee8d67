# case: 7
# title: setuid binaries, su and sudo, setuid(0)
# tries: setuid(0), setgid(0), setgroups([0]); su root -c 'id -u' and sudo -n id -u if present
# means: the uid and gid stay the sandbox's unprivileged ones, NoNewPrivs is 1 (so setuid bits give
# means: nothing), and no child reports euid 0
# expect-status: ok
# expect-contained: 8
# expect-stdout: ^DONE$
import os, subprocess
from attacklib import contained, escaped, done, ename

uid0, gid0 = os.getuid(), os.getgid()
(escaped if uid0 == 0 else contained)("runs unprivileged", f"uid {uid0} gid {gid0}")
status = open("/proc/self/status").read()
nnp = [l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs:")]
(contained if nnp == ["1"] else escaped)("NoNewPrivs", f"{nnp}")
for name, fn in (("setuid(0)", lambda: os.setuid(0)), ("setgid(0)", lambda: os.setgid(0)), ("setgroups([0])", lambda: os.setgroups([0]))):
    try:
        fn()
        escaped(name, "succeeded")
    except OSError as e:
        contained(name, ename(e.errno))

import shutil
for argv in (["su", "root", "-c", "id -u"], ["sudo", "-n", "id", "-u"]):
    exe = shutil.which(argv[0], path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not exe:
        contained(f"run {argv[0]}", "not present in the sandbox")
        continue
    try:
        r = subprocess.run([exe] + argv[1:], capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
    except Exception as e:
        contained(f"run {argv[0]}", f"{type(e).__name__}")
        continue
    if r.returncode == 0 and r.stdout.strip() == b"0":
        escaped(f"run {argv[0]}", "gave uid 0")
    else:
        contained(f"run {argv[0]}", f"exit {r.returncode}: {r.stderr[:80]!r}")
(contained if (os.getuid(), os.geteuid()) == (uid0, uid0) else escaped)("uid unchanged", f"{os.getuid()}/{os.geteuid()}")
done()
