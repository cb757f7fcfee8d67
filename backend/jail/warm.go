package jail

// zygoteRange is how many host uids one zygote maps into its user
// namespace: its own (slot 0) and one per child it may have at once.
const zygoteRange = 1024

// GuestPrefork is how many children each guest zygote keeps forked ahead
// of their runs (each holds a slot): the fork, the uid, the handle and
// the run-independent layers leave the run's path.
const GuestPrefork = 2

// WarmStats counts what the warm path did.
type WarmStats struct {
	Forked    int64          `json:"forked"`    // runs served by a zygote's child
	Fallbacks int64          `json:"fallbacks"` // fork-language runs that ran cold (no zygote, no slot, zygote failure)
	Restarts  int64          `json:"restarts"`  // zygotes started after the first (failures, replacements)
	Ready     map[string]int `json:"ready"`     // free child slots per language with a ready zygote
}
