package lang

// ImageSpec is how a language runs inside a container image built from
// Debian packages, for the tiers that run code on a machine other than
// this one (the kubernetes tier): the interpreter is the image's, never
// the one discovered on this host.
type ImageSpec struct {
	// FileName is the code's file name in the work directory.
	FileName string
	// Argv is the command line in the image, with the tokens of
	// Language.Argv ({file}, {heap_mib}).
	Argv []string
	// Packages are the Debian packages the image needs on top of minbase.
	Packages []string
	// OOMMarkers are stderr substrings that mean an allocation failed.
	OOMMarkers []string
}

// Command returns the argv for file under a memory limit, as
// Language.Command does.
func (s ImageSpec) Command(file string, memory int64, args []string) []string {
	return (&Language{Argv: s.Argv}).Command(file, memory, args)
}

// Image returns the image spec of a language, or false when the language
// has none (starlark's interpreter is the sandrun binary itself).
func (r *Registry) Image(name string) (ImageSpec, bool) {
	s, ok := r.specs[name]
	if !ok || s.Image == nil {
		return ImageSpec{}, false
	}
	return *s.Image, true
}

// DefaultImage is the tag `sandrun image build` gives a language's image
// ("sandrun-<name>:bookworm"), or "" for a language without an image.
func (r *Registry) DefaultImage(name string) string {
	if _, ok := r.Image(name); !ok {
		return ""
	}
	return "sandrun-" + name + ":bookworm"
}
