package restricted

// RaceEnabled lets the black-box tests skip memory-limit cases under the
// race detector, whose worker needs gigabytes more.
const RaceEnabled = raceEnabled
