# case: 37
# title: daemonize (double fork, setsid, nohup, ignored signals)
# tries: start daemons that leave the process group and session: a double-forked setsid sleep with
# tries: closed stdio, a nohup'd disowned sleep, and a setsid shell ignoring TERM and HUP that keeps stdout
# tries: open; then exit at once
# means: the run returns promptly (a daemon holding stdout does not hang it) and none of the daemons is
# means: alive afterwards (the harness looks for leftover processes, as the subreaper of every orphan)
# expect-status: ok
# expect-contained: 0
# expect-stdout: ^DONE$
# max-elapsed: 30s
( ( exec setsid sleep 61 </dev/null >/dev/null 2>&1 & ) & )
nohup sleep 62 </dev/null >/dev/null 2>&1 &
disown
setsid bash -c 'trap "" TERM HUP INT; sleep 63; echo still here' &
sleep 0.3
echo DONE
