# case: 35
# title: output flood on stderr
# tries: write to stderr forever
# means: status output_limit, stderr capped at the 64 KiB limit, the supervisor's heap flat and the run
# means: stopped promptly
# expect-status: output_limit
# expect-contained: 0
# limits: output=64KiB
# max-elapsed: 30s
# max-heap-growth: 16MiB
import sys
line = "y" * 99 + "\n"
while True:
    sys.stderr.write(line)
