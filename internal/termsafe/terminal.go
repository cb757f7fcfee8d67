package termsafe

import (
	"io"
	"os"
)

// IsTerminal reports whether w is a terminal (a tty or a pty), where
// program output is escaped by default.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && isTerminal(f.Fd())
}
