# case: 52
# title: one allocation over the memory limit
# tries: allocate and touch 300 MiB at once under a 256 MiB limit (no gradual growth to trip over)
# means: the run ends memory_limit; it never reports ok with the memory in hand
# expect-status: memory_limit
# expect-contained: 0
# limits: memory=256MiB wall=60s
# heavy: yes
from attacklib import escaped

a = bytearray(300 << 20)
for i in range(0, len(a), 4096):
    a[i] = 1
escaped("one allocation over the limit", f"held {len(a) >> 20} MiB under a 256 MiB limit")
