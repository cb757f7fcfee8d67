# case: 36
# title: stack overflow through deep recursion
# tries: lift Python's recursion limit and repr() a list nested a million deep (C recursion)
# means: the program dies of the overflow and the run reports it (signaled, or exit_error, or
# means: memory_limit), never ok, timeout or internal_error
# expect-status: signaled exit_error memory_limit
# expect-contained: 0
# max-elapsed: 60s
import sys
sys.setrecursionlimit(10**8)
nest = []
for _ in range(10**6):
    nest = [nest]
repr(nest)
print("ESCAPED stack: survived a million-deep recursion")
