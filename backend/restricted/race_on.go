//go:build race

package restricted

// raceReserve is added to a worker's RLIMIT_DATA in race-detector builds:
// ThreadSanitizer's own allocations count against the data segment.
const raceReserve = 8 << 30

const raceEnabled = true
