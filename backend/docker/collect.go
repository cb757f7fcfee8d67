package docker

// Output files. /work is a tmpfs that ends with the container, so
// CopyFromContainer after the exit finds nothing, and a copy while the
// program still runs races it. Instead, when a request collects files, the
// boot script does not exec the program: it runs it, kills whatever the
// program left behind (kill -9 -1 as nobody reaches only the container's
// own processes), writes a random per-run mark on stdout, then a tar of
// /work, and exits with the program's status. The supervisor splits
// stdout at the mark: before it is the program's output (capped as
// always), after it the archive (capped at the collect limits), read in
// memory and never written to the host's disk (internal/markstream).
//
// The program can read the mark (/proc/1/cmdline) and forge an archive,
// but that only forges its own output files, which it could write anyway.
const collectTail = `set +e
"$@"
st=$?
kill -9 -1 2>/dev/null
printf '%%s' '%s'
tar -c -f - -C /work . 2>/dev/null
exit $st`
