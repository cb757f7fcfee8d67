package process_test

import (
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
)

// The import hook is a speed bump, but the bypass issue 12 item 1 found
// must not work: the hook decided "user code" from the globals dict the
// caller passes to __import__, so __import__('os', {'__file__': '/x'})
// passed as the standard library's own import.
func TestImportHookBypasses(t *testing.T) {
	needLang(t, "python")
	sb, _ := newSandbox(t)
	for name, code := range map[string]string{
		"statement":         "import os",
		"dotted":            "import os.path",
		"from":              "from subprocess import run",
		"forged globals":    "__import__('os', {'__file__': '/x'})",
		"forged stdlib":     "__import__('socket', {'__file__': '/usr/lib/python3/dist-packages/x.py', '__name__': 'x'})",
		"forged fromlist":   "__import__('os', {'__file__': '/x'}, None, ['system'])",
		"builtins":          "import builtins; builtins.__import__('ctypes', {'__file__': '/'})",
		"in a function":     "def f():\n    import os\nf()",
		"exec'd user code":  "exec(\"import socket\")",
		"user module":       "import helper",
		"submodule of user": "import importlib.util",
	} {
		t.Run(name, func(t *testing.T) {
			req := &sandrun.Request{Language: "python", Code: code + "\nprint('ESCAPED')",
				Files: []sandrun.InputFile{{Name: "helper.py", Content: "import os\n"}}}
			res := run(t, sb, req)
			if strings.Contains(res.Stdout, "ESCAPED") || !strings.Contains(res.Stderr, "is blocked by the sandbox") {
				t.Fatalf("status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
			}
		})
	}
	// The standard library's own imports of blocked modules still work.
	res := run(t, sb, &sandrun.Request{Language: "python", Code: "import random, statistics, json, logging\nprint(random.random() < 1, statistics.mean([1, 3]))"})
	if res.Status != sandrun.StatusOK || res.Stdout != "True 2\n" {
		t.Fatalf("stdlib imports: status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
}
