//go:build !race

package restricted

const raceReserve = 0

const raceEnabled = false
