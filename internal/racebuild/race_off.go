//go:build !race

// Package racebuild tells code whether the binary was built with the race
// detector, for the few places that size limits for children that are
// this same binary (the Starlark session driver, restricted workers).
package racebuild

// Enabled is true in binaries built with -race.
const Enabled = false

// DataReserve is what ThreadSanitizer needs on top of a data-segment
// limit; nothing without it.
const DataReserve = 0
