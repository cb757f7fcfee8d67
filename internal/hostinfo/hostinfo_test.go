package hostinfo

import (
	"runtime"
	"testing"
)

func TestRead(t *testing.T) {
	in := Read(t.TempDir())
	if in.CPUs < 1 {
		t.Fatalf("CPUs = %d", in.CPUs)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if in.Memory < 64<<20 || in.DiskFree <= 0 || in.NoFile < 64 {
		t.Fatalf("implausible host: %+v", in)
	}
}
