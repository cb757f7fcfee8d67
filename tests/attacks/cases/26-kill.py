# case: 26
# title: kill -9 -1, kill the parent, kill pid 1, kill a host pid
# tries: inside a private pid namespace only (otherwise it refuses, and reports ESCAPED): SIGKILL to
# tries: the host victim's pid, to pid 1, to its parent, to every other task it can see (the threads of
# tries: the sandbox's init included), then kill(-1, SIGKILL)
# means: nothing outside the sandbox is touched: the host pid does not exist inside, and the harness
# means: checks that its victim process lives, the supervisor serves and nothing is left behind; the run
# means: itself still ends normally (status ok): the sandbox's init cannot be killed from inside
# expect-status: ok
# expect-contained: 5
# expect-stdout: ^DONE$
import errno, os, signal
from attacklib import contained, escaped, done, ename, guard, victim_pid, visible_pids

if guard("pid", "kill"):
    def kill(name, pid):
        try:
            os.kill(pid, signal.SIGKILL)
            contained(name, "sent: it can only reach the sandbox's own processes")
        except OSError as e:
            contained(name, ename(e.errno))
    v = victim_pid()
    try:
        cmd = open(f"/proc/{v}/cmdline", "rb").read()
    except OSError:
        cmd = None
    if cmd is None:
        kill(f"host victim pid {v}", v)
    elif b"sandrun-attack-victim-" in cmd:
        escaped(f"host victim pid {v}", "visible inside")
    else:
        contained(f"host victim pid {v}", "that number is a sandbox process here; not sent")
    kill("pid 1", 1)
    ppid = os.getppid()
    if ppid > 0:
        kill(f"parent {ppid}", ppid)
    else:
        contained("parent", "outside the pid namespace (ppid 0)")
    mine = set(os.listdir("/proc/self/task"))
    others = []
    for p in visible_pids():
        try:
            others += [t for t in os.listdir(f"/proc/{p}/task") if t not in mine]
        except OSError:
            pass
    hit = []
    for t in others:
        try:
            os.kill(int(t), signal.SIGKILL)
            hit.append(t)
        except OSError:
            pass
    contained("every other task", f"{len(others)} tasks, signal delivered to {hit}")
    kill("kill -9 -1", -1)
done()
