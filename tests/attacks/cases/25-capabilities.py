# case: 25
# title: capability sets from /proc/self/status
# tries: read CapInh, CapPrm, CapEff, CapBnd and CapAmb
# means: all five are zero
# expect-status: ok
# expect-contained: 5
# expect-stdout: ^DONE$
from attacklib import contained, escaped, done

caps = {}
for line in open("/proc/self/status"):
    k, _, v = line.partition(":")
    if k.startswith("Cap"):
        caps[k] = int(v.strip(), 16)
for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
    if k not in caps:
        escaped(k, "missing from /proc/self/status")
    else:
        (contained if caps[k] == 0 else escaped)(k, f"{caps[k]:016x}")
done()
