package cgroup

import (
	"os"
	"strconv"
	"strings"
)

// ReadInt reads a cgroup file that holds one integer (memory.peak,
// pids.max, cpuacct.usage); 0 when it cannot be read or parsed ("max"
// among them).
func ReadInt(p string) int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
}
