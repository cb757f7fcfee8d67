package attacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/testenv"
)

// attackCase is one file of cases/, parsed.
type attackCase struct {
	ID       string // two digits, from the file name: "01"
	Num      int
	File     string
	Language string
	Code     string
	Title    string
	Tries    string
	Means    string // what "contained" means
	Limits   sandrun.Limits
	Runs     int  // sequential runs; each must meet the expectations (case 10)
	Pair     bool // two concurrent runs with roles a and b (case 49)
	Heavy    bool // skipped under -short
	Sanitize bool // run with the sanitizer on (case 48)
	Collect  []string
	Network  sandrun.NetworkPolicy // an allowlist: the case runs against test hosts (network_test.go)
	Expect   expect
}

// expect is what a run must show for the case to pass.
type expect struct {
	Statuses   []sandrun.Status
	Contained  int              // at least this many CONTAINED lines
	Stdout     []*regexp.Regexp // each must match stdout
	StdoutLen  int              // stdout has at least this many bytes (output arrived whole)
	Redacted   []string         // must not appear anywhere in the result
	Detections int              // at least this many detections (sum of counts)
	MaxElapsed time.Duration    // the run returns within this (0: no check)
	HeapGrowth int64            // supervisor heap growth bound (0: no check)
	// Network cases (network_test.go): the run's proxy record.
	Network    bool
	NetCaps    sandrun.NetworkLimits
	NetLimit   string // the cap that must end the run
	NetRefused int    // at least this many refusals recorded
}

// casesDir is relative to the package directory, where go test runs.
const casesDir = "cases"

// libFile is the shared helper module written next to every python case.
const libFile = "attacklib.py"

var caseName = regexp.MustCompile(`^(\d\d)-[a-z0-9-]+\.(py|sh|js)$`)
var headerLine = regexp.MustCompile(`^(?:#|//)\s*([a-z-]+):\s*(.*?)\s*$`)

// loadCases reads and parses every case, sorted by number.
func loadCases() ([]*attackCase, error) {
	ents, err := os.ReadDir(casesDir)
	if err != nil {
		return nil, err
	}
	var out []*attackCase
	for _, e := range ents {
		if e.IsDir() || e.Name() == libFile || e.Name() == netLibFile {
			continue
		}
		if !caseName.MatchString(e.Name()) {
			return nil, fmt.Errorf("cases/%s: name must be NN-words.(py|sh|js)", e.Name())
		}
		src, err := os.ReadFile(filepath.Join(casesDir, e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := parseCase(e.Name(), string(src))
		if err != nil {
			return nil, fmt.Errorf("cases/%s: %w", e.Name(), err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// parseCase reads the header: the leading comment block of key: value
// lines. Unknown keys are errors, so a typo cannot weaken a case.
func parseCase(name, src string) (*attackCase, error) {
	m := caseName.FindStringSubmatch(name)
	if m == nil {
		return nil, fmt.Errorf("bad case file name %q", name)
	}
	c := &attackCase{ID: m[1], File: name, Code: src, Runs: 1}
	c.Num, _ = strconv.Atoi(m[1])
	c.Language = map[string]string{"py": "python", "sh": "bash", "js": "javascript"}[m[2]]
	c.Expect.Contained = 1
	seen := map[string]bool{}
	for i, line := range strings.Split(src, "\n") {
		if i == 0 && strings.HasPrefix(line, "#!") {
			continue
		}
		if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "//") {
			break
		}
		hm := headerLine.FindStringSubmatch(line)
		if hm == nil {
			continue // prose continuing the previous key
		}
		key, val := hm[1], hm[2]
		seen[key] = true
		if err := c.set(key, val); err != nil {
			return nil, fmt.Errorf("header %q: %w", key, err)
		}
	}
	for _, k := range []string{"case", "title", "tries", "means", "expect-status"} {
		if !seen[k] {
			return nil, fmt.Errorf("header lacks %q", k)
		}
	}
	if err := c.checkNetworkHeader(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *attackCase) set(key, val string) error {
	e := &c.Expect
	switch key {
	case "case":
		if n, err := strconv.Atoi(val); err != nil || n != c.Num {
			return fmt.Errorf("says case %q but the file name says %d", val, c.Num)
		}
	case "title":
		c.Title = val
	case "tries":
		c.Tries = strings.TrimSpace(c.Tries + " " + val)
	case "means":
		c.Means = strings.TrimSpace(c.Means + " " + val)
	case "expect-status":
		for _, s := range strings.Fields(val) {
			if !validStatus(sandrun.Status(s)) {
				return fmt.Errorf("unknown status %q", s)
			}
			e.Statuses = append(e.Statuses, sandrun.Status(s))
		}
	case "expect-contained":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("not a count: %q", val)
		}
		e.Contained = n
	case "expect-stdout":
		re, err := regexp.Compile("(?m)" + val)
		if err != nil {
			return err
		}
		e.Stdout = append(e.Stdout, re)
	case "expect-stdout-bytes":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("not a count: %q", val)
		}
		e.StdoutLen = n
	case "expect-redacted":
		e.Redacted = append(e.Redacted, val)
	case "expect-detections":
		n, err := strconv.Atoi(val)
		if err != nil {
			return err
		}
		e.Detections = n
	case "max-elapsed":
		d, err := time.ParseDuration(val)
		if err != nil {
			return err
		}
		e.MaxElapsed = d
	case "max-heap-growth":
		b, err := sandrun.ParseBytes(val)
		if err != nil {
			return err
		}
		e.HeapGrowth = int64(b)
	case "limits":
		return c.setLimits(val)
	case "runs":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return fmt.Errorf("not a count: %q", val)
		}
		c.Runs = n
	case "pair":
		c.Pair = val == "yes"
	case "heavy":
		c.Heavy = val == "yes"
	case "sanitize":
		c.Sanitize = val == "yes"
	case "collect":
		c.Collect = strings.Fields(val)
	case "network", "network-limits", "expect-network-limit", "expect-network-refused":
		return c.setNetwork(key, val)
	default:
		return fmt.Errorf("unknown header key")
	}
	return nil
}

func (c *attackCase) setLimits(val string) error {
	l := &c.Limits
	err := eachKeyValue(val, func(k, v string) (err error) {
		switch k {
		case "wall":
			l.WallTime, err = sandrun.ParseDuration(v)
		case "cpu":
			l.CPUTime, err = sandrun.ParseDuration(v)
		case "memory":
			l.Memory, err = sandrun.ParseBytes(v)
		case "file_size":
			l.FileSize, err = sandrun.ParseBytes(v)
		case "output":
			l.Output, err = sandrun.ParseBytes(v)
		case "work_dir":
			l.WorkDir, err = sandrun.ParseBytes(v)
		case "processes":
			l.Processes, err = strconv.Atoi(v)
		case "open_files":
			l.OpenFiles, err = strconv.Atoi(v)
		default:
			return fmt.Errorf("unknown limit %q", k)
		}
		if err != nil {
			return fmt.Errorf("limit %s: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return l.Validate()
}

func validStatus(s sandrun.Status) bool {
	for _, a := range sandrun.AllStatuses() {
		if a == s {
			return true
		}
	}
	return false
}

// judge compares one run's result with the expectations and returns what
// is wrong (nothing when the case passed). secrets are host strings that
// must never appear in a result (canary contents, the supervisor's secret).
func judge(e expect, lim sandrun.Limits, res *sandrun.Result, secrets []string) []string {
	var bad []string
	if !statusIn(res.Status, e.Statuses) {
		bad = append(bad, fmt.Sprintf("status %s (error %q; stderr ends %q), want %v", res.Status, res.Error, tail(res.Stderr, 300), e.Statuses))
	}
	contained := 0
	for _, stream := range []string{res.Stdout, res.Stderr} {
		for _, line := range strings.Split(stream, "\n") {
			switch {
			case strings.HasPrefix(line, "ESCAPED"):
				bad = append(bad, "attack worked: "+line)
			case strings.HasPrefix(line, "BROKEN"):
				bad = append(bad, "the sandbox broke ordinary functionality: "+line)
			case strings.HasPrefix(line, "CONTAINED "):
				contained++
			}
		}
	}
	if contained < e.Contained {
		bad = append(bad, fmt.Sprintf("%d CONTAINED lines, want at least %d (the case did not run its checks)", contained, e.Contained))
	}
	for _, re := range e.Stdout {
		if !re.MatchString(res.Stdout) {
			bad = append(bad, fmt.Sprintf("stdout does not match %q", re))
		}
	}
	if len(res.Stdout) < e.StdoutLen {
		bad = append(bad, fmt.Sprintf("stdout has %d bytes, want at least %d (output lost)", len(res.Stdout), e.StdoutLen))
	}
	all := res.Stdout + "\n" + res.Stderr
	for _, f := range res.Files {
		all += "\n" + string(f.Content)
	}
	for _, s := range e.Redacted {
		if strings.Contains(all, s) {
			bad = append(bad, fmt.Sprintf("secret %q not redacted", s))
		}
	}
	if e.Detections > 0 || len(e.Redacted) > 0 {
		n := 0
		for _, d := range res.Detections {
			n += d.Count
		}
		if !res.Sanitized || n < e.Detections {
			bad = append(bad, fmt.Sprintf("sanitized=%v with %d detections %v, want at least %d", res.Sanitized, n, res.Detections, e.Detections))
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			bad = append(bad, fmt.Sprintf("host secret %.12q... leaked into the result", s))
		}
	}
	bad = append(bad, judgeNetwork(e, res)...)
	// The cap plus the truncation notice; a flood must not cost more.
	limit := int(lim.WithDefaults().Output) + 256
	if len(res.Stdout) > limit || len(res.Stderr) > limit {
		bad = append(bad, fmt.Sprintf("output over its cap: stdout %d, stderr %d bytes", len(res.Stdout), len(res.Stderr)))
	}
	return bad
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func statusIn(s sandrun.Status, list []sandrun.Status) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lastCase is the corpus's last case: 1-53 the design's list, 54-66 the
// network policy's proxy-bypass cases (issue 16), 67 and on from the
// outside check (issue 12, tests written by the red team).
const lastCase = 67

// TestCorpusComplete checks that cases 1-lastCase all exist, once each, and
// that every header parses: a missing or malformed case fails here, quickly.
func TestCorpusComplete(t *testing.T) {
	cases, err := loadCases()
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]string{}
	for _, c := range cases {
		if prev, dup := have[c.Num]; dup {
			t.Errorf("case %d twice: %s and %s", c.Num, prev, c.File)
		}
		have[c.Num] = c.File
		if c.Title == "" || c.Tries == "" || c.Means == "" || len(c.Expect.Statuses) == 0 {
			t.Errorf("%s: header incomplete", c.File)
		}
	}
	for n := 1; n <= lastCase; n++ {
		if _, ok := have[n]; !ok {
			t.Errorf("case %d is missing", n)
		}
	}
	// A case that does not even parse would only fail at run time, on a
	// host that has the backend: check the syntax here, everywhere.
	var py []string
	for _, c := range cases {
		switch c.Language {
		case "python":
			py = append(py, filepath.Join(casesDir, c.File))
		case "bash":
			checkSyntax(t, c.File, "bash", "-n", filepath.Join(casesDir, c.File))
		}
	}
	py = append(py, filepath.Join(casesDir, libFile), filepath.Join(casesDir, netLibFile))
	checkSyntax(t, "python cases", "python3", append([]string{"-c",
		"import sys\nfor f in sys.argv[1:]: compile(open(f).read(), f, 'exec')"}, py...)...)
}

func checkSyntax(t *testing.T, what, exe string, args ...string) {
	if _, err := exec.LookPath(exe); err != nil {
		// The other checks of the calling test go on; in CI (strict) the
		// interpreter must be there.
		if testenv.Strict() {
			t.Fatalf("no %s here to check the syntax of %s", exe, what)
		}
		t.Logf("no %s here; not checking the syntax of %s", exe, what)
		return
	}
	if out, err := exec.Command(exe, args...).CombinedOutput(); err != nil {
		t.Errorf("%s: does not parse: %v\n%s", what, err, out)
	}
}

// TestJudge makes sure the verdict logic can fail: each broken result
// must be caught.
func TestJudge(t *testing.T) {
	e := expect{Statuses: []sandrun.Status{sandrun.StatusOK}, Contained: 2, Stdout: []*regexp.Regexp{regexp.MustCompile("(?m)^DONE$")}}
	good := &sandrun.Result{Status: sandrun.StatusOK, Stdout: "CONTAINED a: x\nCONTAINED b: y\nDONE\n"}
	if bad := judge(e, sandrun.Limits{}, good, []string{"s3cret"}); len(bad) != 0 {
		t.Fatalf("good result judged bad: %v", bad)
	}
	for name, r := range map[string]*sandrun.Result{
		"escaped":     {Status: sandrun.StatusOK, Stdout: "CONTAINED a: x\nESCAPED b: y\nCONTAINED c: z\nDONE\n"},
		"status":      {Status: sandrun.StatusExitError, Stdout: good.Stdout},
		"few":         {Status: sandrun.StatusOK, Stdout: "CONTAINED a: x\nDONE\n"},
		"not done":    {Status: sandrun.StatusOK, Stdout: "CONTAINED a: x\nCONTAINED b: y\n"},
		"leak":        {Status: sandrun.StatusOK, Stdout: good.Stdout + "s3cret\n"},
		"leak in err": {Status: sandrun.StatusOK, Stdout: good.Stdout, Stderr: "xs3cretx"},
		"leak in file": {Status: sandrun.StatusOK, Stdout: good.Stdout,
			Files: []sandrun.OutputFile{{Name: "f", Content: []byte("s3cret")}}},
		"escaped on stderr": {Status: sandrun.StatusOK, Stdout: good.Stdout, Stderr: "ESCAPED x: y"},
		"broken":            {Status: sandrun.StatusOK, Stdout: "BROKEN threads: no\n" + good.Stdout},
	} {
		if bad := judge(e, sandrun.Limits{}, r, []string{"s3cret"}); len(bad) == 0 {
			t.Errorf("%s: broken result judged good", name)
		}
	}
	red := expect{Statuses: []sandrun.Status{sandrun.StatusOK}, Redacted: []string{"AKIAX"}, Detections: 1}
	if bad := judge(red, sandrun.Limits{}, &sandrun.Result{Status: sandrun.StatusOK, Stdout: "AKIAX", Sanitized: true,
		Detections: []sandrun.Detection{{Rule: "aws", Count: 1}}}, nil); len(bad) == 0 {
		t.Error("unredacted secret judged good")
	}
}
