package capture

import "testing"

func TestScratchRace(t *testing.T) {
	n := 0
	done := make(chan bool)
	go func() { n++; done <- true }()
	n++
	<-done
	_ = n
}
