// Package attacks is sandrun's attack corpus and its harness.
//
// cases/ holds one small hostile program per case of the design's attack
// list (docs: shared/design/attacks.md, cases 1-53), each with a header
// that says what it tries, what "contained" means, and the machine-checked
// expectations: the run's status, how many CONTAINED lines it must print,
// patterns its output must show. A case prints ESCAPED when an attack works
// and the harness fails it.
//
// The harness (go test ./tests/attacks/) runs every case against every
// OS-level backend listed in backends_linux_test.go, by name, and after each
// case checks the host: canary files unchanged, no probe files left in
// shared host directories, no leftover processes, cgroups, mounts or work
// directories, the harness's victim process and listeners untouched, and
// the supervisor still serving. A tier that legitimately cannot contain a
// case lists it as a known gap with the reason; gaps are run, reported and
// counted, never passed. See docs/arch-attacks.md.
package attacks
