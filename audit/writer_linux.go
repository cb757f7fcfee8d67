//go:build linux

package audit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// writerID names this process for the records it begins: pid and start
// time (clock ticks since boot), so that a reused pid is not mistaken for
// the writer.
func writerID() string { return fmt.Sprintf("%d:%s", os.Getpid(), startTime(os.Getpid())) }

// writerAlive reports whether the process that wrote writer still runs
// (on this host). An unreadable writer is taken as alive: only a record
// known to be orphaned is marked interrupted.
func writerAlive(writer string) bool {
	pid, start, ok := strings.Cut(writer, ":")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return true
	}
	now := startTime(n)
	return now != "" && now == start
}

// startTime is field 22 of /proc/PID/stat, "" when the process is gone.
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// from the last ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22 = third field after ")" is field 3
}

// holdsDeleted reports whether this process has path open although it
// was deleted (or replaced): a descriptor whose link in /proc/self/fd is
// "path (deleted)".
func holdsDeleted(path string) bool {
	dir := "/proc/self/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := path + " (deleted)"
	for _, e := range ents {
		if t, err := os.Readlink(dir + "/" + e.Name()); err == nil && t == want {
			return true
		}
	}
	return false
}
