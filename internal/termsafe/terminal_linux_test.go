package termsafe

import (
	"os"
	"testing"

	"github.com/sandrun/sandrun/internal/testenv"
)

func TestIsTerminal(t *testing.T) {
	pts, _ := testenv.Pty(t)
	if !IsTerminal(pts) {
		t.Error("a pty is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(f) || IsTerminal(w) || IsTerminal((*os.File)(nil)) {
		t.Error("a file or a pipe is a terminal")
	}
}
