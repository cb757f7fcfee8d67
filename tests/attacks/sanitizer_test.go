package attacks

import (
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/sanitize"
)

// caseSanitizer is the sanitizer the corpus runs with: sandrun's default
// rule set, as the CLI and the server install it. Only cases whose header
// says "sanitize: yes" (48) have it on; the others run with NoSanitize so
// that a leaked host secret is seen raw, not hidden by redaction.
func caseSanitizer() (sandrun.Sanitizer, string) {
	s, err := sanitize.New(sanitize.Options{})
	if err != nil {
		return nil, "the sanitizer does not build: " + err.Error()
	}
	return s, ""
}
