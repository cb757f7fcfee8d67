package sandrun

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bytes is a size in bytes. In JSON and on the command line it is written
// either as a plain integer (bytes) or with a unit: 512KiB, 256MiB, 1GiB,
// 10MB (decimal units are accepted too: kB, MB, GB).
type Bytes int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"B", 1},
}

// ParseBytes parses "256MiB", "1GiB", "4096" and the like.
func ParseBytes(s string) (Bytes, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	num := t
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			num = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("malformed size %q: want a number with an optional unit (B, KiB, MiB, GiB, kB, MB, GB)", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("negative size %q", s)
	}
	v := f * float64(mult)
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if v > 0 && v < 1 {
		// Zero means "the default": a size that rounds to it would be
		// changed silently into something else than what was asked.
		return 0, fmt.Errorf("size %q is less than one byte", s)
	}
	return Bytes(v), nil
}

// String formats the size with the largest binary unit that divides it.
func (b Bytes) String() string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", int64(b))
}

// MarshalJSON writes the size as an integer number of bytes.
func (b Bytes) MarshalJSON() ([]byte, error) { return []byte(strconv.FormatInt(int64(b), 10)), nil }

// UnmarshalJSON accepts an integer (bytes) or a string with a unit.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	} else {
		s = string(data)
	}
	v, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("10s", "1500ms") and also accepts a bare number of milliseconds.
type Duration time.Duration

// ParseDuration parses "10s", "1m30s", "250ms"; a bare number is seconds
// on the command line convention of timeout(1).
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("malformed duration %q: want a number with a unit such as 500ms, 10s, 2m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return Duration(d), nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string such as "10s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts "10s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("malformed duration %q: want a string such as \"10s\" or a number of milliseconds", s)
		}
		if v == 0 && strings.ContainsAny(s, "123456789") {
			// "0.4ns" is not zero (which means "the default").
			return fmt.Errorf("duration %q is less than a nanosecond", s)
		}
		*d = Duration(v)
		return nil
	}
	ms, err := strconv.ParseFloat(string(data), 64)
	// 9.2e12 ms is the largest time.Duration: past it the conversion
	// wraps around to a negative number.
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) || math.Abs(ms) > 9e12 {
		return fmt.Errorf("malformed duration %s: want a string such as \"10s\" or a number of milliseconds", data)
	}
	if ms != 0 && math.Abs(ms) < 1e-6 {
		return fmt.Errorf("duration %s ms is less than a nanosecond", data)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}
