# case: 34
# title: output flood on stdout
# tries: print forever
# means: status output_limit, stdout capped at the 64 KiB limit (plus the truncation notice), the
# means: supervisor's heap flat (grows by less than 16 MiB) and the run stopped promptly
# expect-status: output_limit
# expect-contained: 0
# limits: output=64KiB
# max-elapsed: 30s
# max-heap-growth: 16MiB
line = "x" * 99
while True:
    print(line)
