//go:build race

package racebuild

// Enabled is true in binaries built with -race.
const Enabled = true

// DataReserve is added to a child's RLIMIT_DATA when the child is this
// binary: ThreadSanitizer's shadow memory and traces count against the
// data segment and it aborts when it cannot map them.
const DataReserve = 8 << 30
