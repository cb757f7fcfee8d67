# case: 32
# title: sleep forever
# tries: sleep for an hour
# means: status timeout at the 2 s wall limit, promptly (the run returns well within 20 s)
# expect-status: timeout
# expect-contained: 0
# expect-stdout: ^sleeping$
# limits: wall=2s
# max-elapsed: 20s
import time
print("sleeping", flush=True)
time.sleep(3600)
