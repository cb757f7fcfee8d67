# case: 53
# title: CPU time past the limit, then a clean exit
# tries: spin 3 s of CPU time (the program's own clock) under a 1 s CPU limit, then print and exit 0
# means: the run ends cpu_limit before the spin completes; it never finishes ok having used three
# means: times its CPU limit (a watchdog with too much slack let gVisor runs do that)
# expect-status: cpu_limit
# expect-contained: 0
# expect-stdout: ^spinning$
# limits: cpu=1s wall=60s
# heavy: yes
import time
from attacklib import escaped

print("spinning", flush=True)
t = time.process_time()
while time.process_time() - t < 3:
    pass
escaped("CPU limit", f"spun {time.process_time() - t:.1f} s of CPU under a 1 s limit and exited")
