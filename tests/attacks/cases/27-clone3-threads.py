# case: 27
# title: clone3 answers ENOSYS and threads still work
# tries: call clone3 directly; then run 8 threads and a subprocess, which use clone through libc
# means: clone3 returns ENOSYS (so libc falls back to clone, which the filter can inspect) and the
# means: threads and the subprocess work normally
# expect-status: ok
# expect-contained: 3
# expect-stdout: ^DONE$
import errno, subprocess, sys, threading
from attacklib import broken, contained, done, expect_denied, syscall

expect_denied("clone3", lambda: syscall("clone3", None, 0), denied={errno.ENOSYS})
results = [0] * 8
def work(i):
    results[i] = sum(range(i * 1000))
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
want = [sum(range(i * 1000)) for i in range(8)]
(contained if results == want else broken)("threads", "8 threads ran" if results == want else f"wrong results {results}")
r = subprocess.run([sys.executable, "-c", "print(6*7)"], capture_output=True)
(contained if r.stdout == b"42\n" else broken)("subprocess", f"exit {r.returncode} {r.stdout!r} {r.stderr[-200:]!r}")
done()
