# case: 31
# title: CPU spin in many threads and processes
# tries: 4 threads and 3 child processes spin forever
# means: the run ends with cpu_limit (or timeout, at the latest at the wall limit) and nothing spins on
# expect-status: cpu_limit timeout
# expect-contained: 0
# expect-stdout: ^spinning$
# limits: cpu=1s wall=6s
# max-elapsed: 30s
# heavy: yes
import os, threading

def spin():
    while True:
        pass

for _ in range(3):
    if os.fork() == 0:
        spin()
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
print("spinning", flush=True)
spin()
