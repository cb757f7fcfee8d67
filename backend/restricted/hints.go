package restricted

import (
	"fmt"
	"regexp"
	"strings"

	"go.starlark.net/syntax"
)

// pythonOnly are Python constructs Starlark does not have. When the line
// a compile error points at uses one, the report says so in words and
// points to the jail tier for full Python, instead of leaving the user
// with "got identifier, want newline". The table is read-only.
var pythonOnly = []struct {
	re   *regexp.Regexp
	what string
	alt  string
}{
	{regexp.MustCompile(`^\s*(import\s+[\w.]|from\s+[\w.]+\s+import\b)`), "import statements are",
		"the allowlisted modules are predeclared (use math.sqrt, json.encode, ... without importing)"},
	{regexp.MustCompile(`^\s*class\s+\w`), "class definitions are", "use dicts, or functions that return them"},
	{regexp.MustCompile(`^\s*(try\s*:|except\b|finally\s*:)`), "try/except is", "check values before using them; fail(msg) stops the program with an error"},
	{regexp.MustCompile(`^\s*raise\b`), "raise is", "use fail(msg)"},
	{regexp.MustCompile(`^\s*with\s+\S`), "with statements are", ""},
	{regexp.MustCompile(`^\s*(global|nonlocal)\s+\w`), "global and nonlocal are", "return values from functions instead"},
	{regexp.MustCompile(`^\s*(async\s+def|await\b)|\bawait\s`), "async and await are", ""},
	{regexp.MustCompile(`\byield\b`), "generators (yield) are", "build and return a list"},
	{regexp.MustCompile(`^\s*del\s+\S`), "del is", ""},
	{regexp.MustCompile(`[\w)\]]\s*\*\*\s*[\w(\[.-]`), "the ** power operator is", "use math.pow(x, y), or x * x"},
	{regexp.MustCompile(`\b[fF][rR]?("|')`), "f-strings are", `use "%s" % x or "{}".format(x)`},
	{regexp.MustCompile(`:=`), "assignment expressions (:=) are", ""},
}

// explain formats one compile error at pos and, when the source line at
// pos uses a Python-only construct, adds what is not supported and where
// full Python runs.
func explain(code string, pos syntax.Position, msg string) string {
	line := sourceLine(code, int(pos.Line))
	for _, p := range pythonOnly {
		if p.re.MatchString(line) {
			h := fmt.Sprintf("%s: %s not supported by the restricted tier (Starlark, a Python dialect without I/O)", pos, p.what)
			if p.alt != "" {
				h += "; " + p.alt
			}
			return h + ". For Python, run it with --lang python --backend restricted (under the restricted policy) or --backend jail.\n" + msg + "\n"
		}
	}
	return msg + "\n"
}

func sourceLine(code string, n int) string {
	if n < 1 {
		return ""
	}
	for i := 1; i < n; i++ {
		j := strings.IndexByte(code, '\n')
		if j < 0 {
			return ""
		}
		code = code[j+1:]
	}
	if j := strings.IndexByte(code, '\n'); j >= 0 {
		code = code[:j]
	}
	return code
}
