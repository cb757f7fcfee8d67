//go:build !cgo

package analyze

import "errors"

// measurePython needs tree-sitter, a C library: without cgo, Python code
// cannot be measured, and with limits on it is refused (fail closed).
func measurePython(string) (Metrics, error) {
	return Metrics{}, errors.New("python: static analysis needs a cgo build (tree-sitter)")
}

func importsPython(string) ([]string, error) {
	return nil, errors.New("python: finding imports needs a cgo build (tree-sitter)")
}
