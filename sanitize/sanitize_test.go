package sanitize_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/sanitize"
)

func newSan(t testing.TB, opts sanitize.Options) *sanitize.Sanitizer {
	t.Helper()
	s, err := sanitize.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedDemo is the seed's demo: a connection string, a server IP, a config
// path, an e-mail address and an API key.
const seedDemo = `Connecting to postgresql://admin:s3cr3tP4ss@db.internal:5432/prod
Server IP: 192.168.1.100
Config loaded from /etc/myapp/config.yaml
Contact admin@company.com for access
API key: sk-proj-abc123def456ghi789jkl012mno345pqr678
`

func TestSeedDemo(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	out, det := s.Sanitize("stdout", seedDemo)
	want := `Connecting to [REDACTED_CONNECTION_STRING]
Server IP: [REDACTED_IP]
Config loaded from [REDACTED_PATH]
Contact [REDACTED_EMAIL] for access
API key: [REDACTED_API_KEY]
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	wantDet := map[string]int{"connection-string": 1, "private-ipv4": 1, "system-path": 1, "email": 1, "openai-key": 1}
	if len(det) != 5 {
		t.Errorf("got %d detections, want 5: %+v", len(det), det)
	}
	total := 0
	for _, d := range det {
		total += d.Count
		if wantDet[d.Rule] != d.Count || d.Stream != "stdout" {
			t.Errorf("unexpected detection %+v", d)
		}
	}
	if total != 5 {
		t.Errorf("got %d redactions, want 5", total)
	}
	for _, secret := range []string{"s3cr3tP4ss", "192.168.1.100", "/etc/myapp", "admin@company.com", "sk-proj-abc123"} {
		if strings.Contains(out, secret) {
			t.Errorf("output still holds %q", secret)
		}
	}
}

// rnd makes deterministic high-entropy strings from an alphabet.
func rnd(seed uint64, alphabet string, n int) string {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lower = "abcdefghijklmnopqrstuvwxyz0123456789"
	hexd  = "0123456789abcdef"
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

const pemKey = `-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK
LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo
9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvre
-----END RSA PRIVATE KEY-----`

func TestSecretsPerRule(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	cases := []struct {
		rule, text, secret, kind string
	}{
		// The seed's categories.
		{"email", "mail jane.doe+tag@mail.example.co.uk now", "jane.doe+tag@mail.example.co.uk", "EMAIL"},
		{"private-ipv4", "host 10.0.12.7 up", "10.0.12.7", "IP"},
		{"private-ipv4", "gw=172.31.255.1;", "172.31.255.1", "IP"},
		{"private-ipv4", "(192.168.0.1)", "192.168.0.1", "IP"},
		{"private-ipv6", "addr fd12:3456:789a:1::1 ok", "fd12:3456:789a:1::1", "IP"},
		{"private-ipv6", "[fc00::42]:8080", "fc00::42", "IP"},
		{"system-path", "open('/etc/shadow')", "/etc/shadow", "PATH"},
		{"system-path", "HOME=/root", "/root", "PATH"},
		{"system-path", "in /home/alice/.ssh/id_rsa:", "/home/alice/.ssh/id_rsa", "PATH"},
		{"connection-string", "DB=mysql://root:hunter2@10.1.1.1:3306/app", "mysql://root:hunter2@10.1.1.1:3306/app", "CONNECTION_STRING"},
		{"connection-string", `"mongodb+srv://u:p%40ss@cluster0.mongodb.net/db"`, "mongodb+srv://u:p%40ss@cluster0.mongodb.net/db", "CONNECTION_STRING"},
		{"connection-string", "redis://:s3cret@cache:6379/0", "redis://:s3cret@cache:6379/0", "CONNECTION_STRING"},
		{"connection-string", "amqp://guest:guestpw@rabbit/", "amqp://guest:guestpw@rabbit/", "CONNECTION_STRING"},
		{"connection-string", "postgres+psycopg2://a:b@h/d", "postgres+psycopg2://a:b@h/d", "CONNECTION_STRING"},
		{"pem-private-key", "key:\n" + pemKey + "\ndone", pemKey, "PRIVATE_KEY"},
		{"openai-key", "OPENAI_API_KEY=sk-" + rnd(1, alnum, 48), "sk-" + rnd(1, alnum, 48), "API_KEY"},
		{"openai-key", "k sk-proj-" + rnd(2, alnum+"_-", 60), "sk-proj-" + rnd(2, alnum+"_-", 60), "API_KEY"},
		{"anthropic-key", "sk-ant-api03-" + rnd(3, alnum, 40), "sk-ant-api03-" + rnd(3, alnum, 40), "API_KEY"},
		{"aws-access-key", "id AKIA" + rnd(4, upper, 16) + " x", "AKIA" + rnd(4, upper, 16), "AWS_KEY"},
		{"aws-access-key", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "AWS_KEY"},
		{"aws-secret-key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_KEY"},
		// gitleaks' rules.
		{"github-pat", "token ghp_" + rnd(5, alnum, 36), "ghp_" + rnd(5, alnum, 36), "GITHUB_PAT"},
		{"gitlab-pat", "glpat-" + rnd(6, alnum, 20), "glpat-" + rnd(6, alnum, 20), "GITLAB_PAT"},
		{"slack-bot-token", "xoxb-1234567890-1234567890123-" + rnd(7, alnum, 24), "xoxb-1234567890-1234567890123-" + rnd(7, alnum, 24), "SLACK_BOT_TOKEN"},
		{"stripe-access-token", "sk_live_" + rnd(8, alnum, 24) + " ", "sk_live_" + rnd(8, alnum, 24), "STRIPE_ACCESS_TOKEN"},
		{"npm-access-token", "npm_" + rnd(9, lower, 36) + "\n", "npm_" + rnd(9, lower, 36), "NPM_ACCESS_TOKEN"},
		{"digitalocean-pat", "dop_v1_" + rnd(10, hexd, 64) + " ", "dop_v1_" + rnd(10, hexd, 64), "DIGITALOCEAN_PAT"},
		{"shopify-access-token", "shpat_" + rnd(11, hexd, 32), "shpat_" + rnd(11, hexd, 32), "SHOPIFY_ACCESS_TOKEN"},
		{"gcp-api-key", "AIza" + rnd(12, alnum, 35) + "\n", "AIza" + rnd(12, alnum, 35), "GCP_API_KEY"},
		{"jwt", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c ok",
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "JWT"},
		{"generic-api-key", `service_token = "` + rnd(13, alnum, 32) + `"`, rnd(13, alnum, 32), "GENERIC_API_KEY"},
		{"private-key", "x", "", ""}, // placeholder replaced below
	}
	cases = cases[:len(cases)-1]
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			out, det := s.Sanitize("stdout", c.text)
			if strings.Contains(out, c.secret) {
				t.Fatalf("%q: secret survived: %q", c.text, out)
			}
			want := strings.Replace(c.text, c.secret, "[REDACTED_"+c.kind+"]", 1)
			if out != want {
				t.Errorf("got %q\nwant %q", out, want)
			}
			if len(det) != 1 || det[0].Rule != c.rule || det[0].Count != 1 {
				t.Errorf("detections %+v, want one of %s", det, c.rule)
			}
		})
	}
}

// Look-alikes that must pass through untouched.
func TestLookAlikesKept(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	for _, text := range []string{
		"Python 3.10.12 on linux, numpy 1.26.4",
		"version 10.0.1 released; build 10.0.1.4567.89",
		"lib 1.10.0.1.2 and 2.172.16.0.5.1",
		"DNS 8.8.8.8 and 1.1.1.1, public 172.32.0.1 and 11.0.0.1 and 192.169.1.1",
		"octets 10.300.1.1 are not an address",
		"/usr/bin/python3 /tmp/x.txt /usr/local/etc/foo /var/log/syslog /homes/a",
		"https://example.com/etc/passwd and ./etc/conf and ~/etc and /etcetera /rooted",
		"decorator @property and npm @types/node and pkg@1.2.3",
		"task-runner-1234567890123456789012 and sk-learn",
		"hex fd12 fdab:cd and fc00 alone, fd=3, fe80::1 link-local, 2001:db8::1",
		"key = value and password: short",
		"postgres://localhost/db mysql://host:3306/db (no credentials)",
		"[OUTPUT TRUNCATED: 10 bytes, showing first 5]",
		"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"uuid 123e4567-e89b-12d3-a456-426614174000",
	} {
		out, det := s.Sanitize("stdout", text)
		if out != text || len(det) != 0 {
			t.Errorf("look-alike changed:\n in %q\nout %q\n%+v", text, out, det)
		}
	}
}

func TestOptions(t *testing.T) {
	text := "mail bob@corp.example and code XQ-12345-ABCDE and 10.2.3.4"
	s := newSan(t, sanitize.Options{
		Disable: []string{"private-ipv4"},
		Allow:   []string{"bob@corp.example"},
		Rules:   []sanitize.CustomRule{{ID: "ticket", Regex: `XQ-\d{5}-[A-Z]{5}`}},
	})
	out, det := s.Sanitize("stderr", text)
	if want := "mail bob@corp.example and code [REDACTED_TICKET] and 10.2.3.4"; out != want {
		t.Errorf("got %q want %q", out, want)
	}
	if len(det) != 1 || det[0].Rule != "ticket" || det[0].Stream != "stderr" {
		t.Errorf("detections %+v", det)
	}
	for _, bad := range []sanitize.Options{
		{Disable: []string{"no-such-rule"}},
		{Rules: []sanitize.CustomRule{{ID: "x", Regex: "("}}},
		{Rules: []sanitize.CustomRule{{ID: "x", Regex: "a*"}}},
		{Rules: []sanitize.CustomRule{{ID: "email", Regex: "abc"}}},
		{Rules: []sanitize.CustomRule{{Regex: "abc"}}},
		{Rules: []sanitize.CustomRule{{ID: "x", Regex: "abc", SecretGroup: 2}}},
	} {
		if _, err := sanitize.New(bad); err == nil {
			t.Errorf("New(%+v) accepted a bad option", bad)
		}
	}
}

func TestCustomRuleWithoutKeywords(t *testing.T) {
	// No literal prefix and no keywords: the rule scans the whole text.
	s := newSan(t, sanitize.Options{Rules: []sanitize.CustomRule{{ID: "badge", Regex: `[0-9]{3}-BADGE`, Kind: "BADGE"}}})
	out, _ := s.Sanitize("stdout", "id 123-BADGE ok")
	if out != "id [REDACTED_BADGE] ok" {
		t.Errorf("got %q", out)
	}
}

func TestSanitizeResult(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	notice := "\n[OUTPUT TRUNCATED: 2000000 bytes, showing first 1048576]\n"
	res := &sandrun.Result{
		Stdout:          "root at /root/x\nAKIAIOSFODNN7EXAMPLE" + notice,
		StdoutTruncated: true,
		Stderr:          "err admin@corp.example\n",
		Files: []sandrun.OutputFile{
			{Name: "out.txt", Content: []byte("db postgres://u:pw@h/d\n"), SHA256: "old"},
			{Name: "blob.bin", Content: []byte("\x00\x01 10.0.0.1 AKIAIOSFODNN7EXAMPLE"), SHA256: "keep"},
		},
		Variables: map[string]any{"k": "sk-ant-" + strings.Repeat("Ab9", 10), "n": 3, "l": []any{"10.9.8.7"}},
	}
	s.SanitizeResult(res)
	if !res.Sanitized {
		t.Error("Sanitized not set")
	}
	if want := "root at [REDACTED_PATH]\n[REDACTED_AWS_KEY]" + notice; res.Stdout != want {
		t.Errorf("stdout %q want %q", res.Stdout, want)
	}
	if res.Stderr != "err [REDACTED_EMAIL]\n" {
		t.Errorf("stderr %q", res.Stderr)
	}
	if string(res.Files[0].Content) != "db [REDACTED_CONNECTION_STRING]\n" || res.Files[0].SHA256 == "old" {
		t.Errorf("text file %q %s", res.Files[0].Content, res.Files[0].SHA256)
	}
	if res.Files[1].SHA256 != "keep" || !strings.Contains(string(res.Files[1].Content), "10.0.0.1") {
		t.Error("binary file was touched")
	}
	if res.Variables["k"] != "[REDACTED_API_KEY]" || res.Variables["l"].([]any)[0] != "[REDACTED_IP]" || res.Variables["n"] != 3 {
		t.Errorf("variables %v", res.Variables)
	}
	got := map[string]int{}
	for _, d := range res.Detections {
		got[d.Stream+"/"+d.Rule] += d.Count
	}
	want := map[string]int{"stdout/system-path": 1, "stdout/aws-access-key": 1, "stderr/email": 1,
		"out.txt/connection-string": 1, "variables/anthropic-key": 1, "variables/private-ipv4": 1}
	if len(got) != len(want) {
		t.Errorf("detections %v want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("detection %s = %d, want %d", k, got[k], v)
		}
	}
	// Idempotent: the markers themselves are not secrets.
	again := *res
	s.SanitizeResult(&again)
	if again.Stdout != res.Stdout || len(again.Detections) != 0 {
		t.Errorf("second pass changed output or detected: %q %+v", again.Stdout, again.Detections)
	}
}

func TestUnterminatedPEMRedactedToEnd(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	cut := pemKey[:200]
	out, det := s.Sanitize("stdout", "head\n"+cut)
	if out != "head\n[REDACTED_PRIVATE_KEY]" || len(det) != 1 {
		t.Errorf("got %q %+v", out, det)
	}
}

func TestRulesListed(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	n := map[string]int{}
	for _, r := range s.Rules() {
		n[r.Source]++
	}
	// 222 gitleaks rules less the path-only pkcs12-file rule.
	if n[sanitize.SourceGitleaks] != 221 || n[sanitize.SourceSandrun] != 10 {
		t.Errorf("rules per source: %v", n)
	}
}

// One Sanitizer serves concurrent runs; rules compile lazily on first
// use, from whichever goroutine gets there first.
func TestConcurrentUse(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	want := "API key: [REDACTED_API_KEY]\n"
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			out, _ := s.Sanitize("stdout", "API key: sk-proj-abc123def456ghi789jkl012mno345pqr678\n")
			done <- out
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != want {
			t.Errorf("got %q", got)
		}
	}
}

// Output built to exhaust the scan (a keyword that passes every gate, every
// few bytes) is cut short by the work budget, and what was not scanned is
// redacted, not returned raw.
func TestScanBudgetFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("scans 1 MiB of adversarial output")
	}
	s := newSan(t, sanitize.Options{})
	key := "AKIA" + rnd(40, upper, 16)
	text := strings.Repeat("key=", (1<<20)/4) + "\nlate secret " + key + "\n"
	out, det := s.Sanitize("stdout", text)
	if strings.Contains(out, key) {
		t.Fatal("a secret after the budget ran out was returned raw")
	}
	if !strings.HasSuffix(out, "[REDACTED_UNSCANNED]") || !strings.HasPrefix(out, "key=key=") {
		t.Errorf("output head %q tail %q", out[:16], out[max(0, len(out)-40):])
	}
	found := false
	for _, d := range det {
		found = found || d.Rule == "scan-budget" && d.Count == 1
	}
	if !found {
		t.Errorf("no scan-budget detection: %+v", det)
	}
	// Realistic output stays well inside the budget.
	corpusText, _ := corpus(9000, 1)
	if out, _ := s.Sanitize("stdout", corpusText); strings.Contains(out, "UNSCANNED") {
		t.Error("a secret on every line exhausted the budget")
	}
}

// What a program showed goes through the rules of text: a value's text
// and HTML, an SVG's markup; a PNG's bytes are binary and left alone.
func TestSanitizeDisplay(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	res := &sandrun.Result{Display: []sandrun.Display{
		{MIME: "text/plain", Data: "key AKIAIOSFODNN7EXAMPLE", Source: "value"},
		{MIME: "text/html", Data: "<td>admin@corp.example</td>", Source: "value"},
		{MIME: "image/svg+xml", Data: "<svg><text>AKIAIOSFODNN7EXAMPLE</text></svg>", Source: "figure"},
		{MIME: "image/png", Data: "QUtJQUlPU0ZPRE5ON0VYQU1QTEU=", Encoding: "base64", Size: 20, Source: "figure"},
	}}
	s.SanitizeResult(res)
	d := res.Display
	if d[0].Data != "key [REDACTED_AWS_KEY]" || d[1].Data != "<td>[REDACTED_EMAIL]</td>" || strings.Contains(d[2].Data, "AKIA") {
		t.Errorf("%+v", d[:3])
	}
	if d[0].Size != len(d[0].Data) || d[3].Data != "QUtJQUlPU0ZPRE5ON0VYQU1QTEU=" || d[3].Size != 20 {
		t.Errorf("sizes or png: %+v", d)
	}
	n := 0
	for _, x := range res.Detections {
		if x.Stream == "display" {
			n += x.Count
		}
	}
	if n != 3 {
		t.Errorf("detections %+v", res.Detections)
	}
}
