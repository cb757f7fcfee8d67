# case: 29
# title: memory bomb
# tries: grow a bytearray 8 MiB at a time, touching every page, up to 1 GiB
# means: the run ends with status memory_limit (the cgroup's OOM kill or an allocation failure), reported as such
# expect-status: memory_limit
# expect-contained: 0
# limits: memory=64MiB
# heavy: yes
from attacklib import escaped

hog = []
for i in range(128):
    hog.append(bytearray(b"\x01" * (8 << 20)))
escaped("memory limit", f"held {len(hog) * 8} MiB")
