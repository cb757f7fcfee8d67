# case: 51
# title: large output in one write
# tries: write 320 KB to stdout in a single unbuffered write (five times a pipe's buffer), then DONE
# means: the whole output arrives, in order, and the run says ok: no short write dropped silently
# means: (gVisor turned a full pipe into a short write that python's unbuffered stdout does not retry)
# expect-status: ok
# expect-contained: 0
# expect-stdout: ^0039999$
# expect-stdout: ^DONE$
# expect-stdout-bytes: 320005
import sys

sys.stdout.write("".join(f"{i:07d}\n" for i in range(40000)))
sys.stdout.flush()
print("DONE", flush=True)
