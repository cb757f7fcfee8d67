package sandrun

// Warm paths: a backend that keeps interpreters ready ahead of the runs
// (the jail's zygotes, pool's prestarted interpreters) says per language
// what it holds and what it did, for GET /v1/status and `sandrun doctor`.

// Kinds of warm path (WarmStatus.Kind).
const (
	// WarmZygote: a jailed interpreter with its start done forks each
	// run a child (backend/jail, lang.WarmFork).
	WarmZygote = "zygote"
	// WarmPrestarted: one-use interpreters started ahead of their runs
	// (pool/, lang.WarmPrestart).
	WarmPrestarted = "prestart"
	// WarmGuest: a language policy's zygote (its modules loaded) with
	// children forked ahead of their runs, each confined and waiting for
	// one (backend/jail guests: restricted python). Listed under the
	// guest's name, not a language's.
	WarmGuest = "guest"
)

// WarmStatus is one language's warm path since the backend started.
type WarmStatus struct {
	Kind string `json:"kind"` // WarmZygote, WarmPrestarted or WarmGuest
	// Tier is the backend the warm interpreters run on.
	Tier string `json:"tier"`
	// Ready: for a zygote, the free child slots of the ready zygote (0:
	// none ready); prestarted, the interpreters waiting for a run; a
	// guest, its children forked ahead, waiting for a run.
	Ready int `json:"ready"`
	// Warm counts the runs served warm; Cold the runs of this language
	// that ran cold instead, by reason (each tier documents its reasons:
	// none ready, all busy, a request the warm interpreter cannot serve
	// as a cold start would, a warm interpreter that failed).
	Warm int64            `json:"warm"`
	Cold map[string]int64 `json:"cold"`
	// Restarts counts zygotes started after the first (failures and
	// replacements); prestarted interpreters are one-use, never
	// restarted.
	Restarts int64 `json:"restarts,omitempty"`
	// Error is why nothing is ready, when the last start failed.
	Error string `json:"error,omitempty"`
}

// WarmReporter is implemented by backends with a warm path.
type WarmReporter interface {
	WarmStatus() map[string]WarmStatus
}

// WarmStatus gathers the warm paths of the sandbox's backends, by
// language (nil when none keeps anything warm). A language has one (the
// jail's zygote for a language that forks, the pool for the others);
// were two backends to report it, the first's (the strongest) is kept.
func (s *Sandbox) WarmStatus() map[string]WarmStatus {
	var out map[string]WarmStatus
	for _, b := range s.Backends() {
		wr, ok := b.(WarmReporter)
		if !ok {
			continue
		}
		for lang, st := range wr.WarmStatus() {
			if _, seen := out[lang]; !seen {
				if out == nil {
					out = map[string]WarmStatus{}
				}
				out[lang] = st
			}
		}
	}
	return out
}
