package audit

// WriterID names this process as it names the writer of the records it
// begins: "PID:START" (START: its start time in clock ticks since boot, so
// that a reused pid is not taken for it; empty off Linux). cmd/sandrun
// names its leases with it.
func WriterID() string { return writerID() }

// WriterAlive reports whether the process a WriterID names still runs;
// true when it cannot tell (off Linux, a malformed id).
func WriterAlive(id string) bool { return writerAlive(id) }
