package sanitize_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sandrun/sandrun/sanitize"
)

// collect runs text through a Stream in the given chunk sizes.
func streamed(s *sanitize.Sanitizer, stream, text string, sizes func() int) (string, int) {
	var out strings.Builder
	st := s.NewStream(func(name, chunk string) {
		if name != stream {
			panic("wrong stream " + name)
		}
		out.WriteString(chunk)
	})
	for len(text) > 0 {
		n := min(max(sizes(), 1), len(text))
		st.Write(stream, []byte(text[:n]))
		text = text[n:]
	}
	st.Close()
	total := 0
	for _, d := range st.Detections() {
		total += d.Count
	}
	return out.String(), total
}

// Every split point of the seed demo: the stream gives what the whole
// text gives.
func TestStreamSplitAtEveryByte(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	want, det := s.Sanitize("stdout", seedDemo+pemKey+"\nend\n")
	text := seedDemo + pemKey + "\nend\n"
	for cut := 1; cut < len(text); cut++ {
		var out strings.Builder
		st := s.NewStream(func(_, c string) { out.WriteString(c) })
		st.Write("stdout", []byte(text[:cut]))
		st.Write("stdout", []byte(text[cut:]))
		st.Close()
		if out.String() != want {
			t.Fatalf("split at %d:\n%s\nwant\n%s", cut, out.String(), want)
		}
		if got := st.Detections(); len(got) != len(det) {
			t.Fatalf("split at %d: detections %+v want %+v", cut, got, det)
		}
	}
}

func TestStreamByteAtATime(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	text := strings.Repeat("progress line ok\n", 50) + seedDemo + "token: ghp_" + rnd(21, alnum, 36) + "\n"
	want, _ := s.Sanitize("stdout", text)
	got, n := streamed(s, "stdout", text, func() int { return 1 })
	if got != want || n != 6 {
		t.Errorf("byte-at-a-time: %d redactions\n%s\nwant\n%s", n, got, want)
	}
}

// Complete lines come out as soon as they are written: a long-running
// program's progress is not held back.
func TestStreamEmitsCompleteLines(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	var got []string
	st := s.NewStream(func(name, c string) { got = append(got, name+":"+c) })
	st.Write("stdout", []byte("step 1\nstep 2 half"))
	if len(got) != 1 || got[0] != "stdout:step 1\n" {
		t.Fatalf("after first write: %q", got)
	}
	st.Write("stderr", []byte("warn 10.0.0."))
	st.Write("stderr", []byte("5 done\n"))
	if len(got) != 2 || got[1] != "stderr:warn [REDACTED_IP] done\n" {
		t.Fatalf("stderr: %q", got)
	}
	st.Close()
	if len(got) != 3 || got[2] != "stdout:step 2 half" {
		t.Fatalf("close: %q", got)
	}
	st.Write("stdout", []byte("after close"))
	if len(got) != 3 {
		t.Error("write after Close was emitted")
	}
}

// A line with no newline longer than the hold-back is emitted in pieces,
// still catching a secret that spans two writes.
func TestStreamLongLine(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	key := "AKIA" + strings.Repeat("QZ", 8)
	text := strings.Repeat("x ", 20000) + key + strings.Repeat(" y", 20000)
	got, n := streamed(s, "stdout", text, func() int { return 4093 })
	if strings.Contains(got, key) || n != 1 || len(got) != len(text)-len(key)+len("[REDACTED_AWS_KEY]") {
		t.Errorf("long line: n=%d leaked=%v", n, strings.Contains(got, key))
	}
}

// Random chunkings of a corpus full of secrets give the same text as the
// whole-text scan, and no secret survives.
func TestStreamRandomChunks(t *testing.T) {
	s := newSan(t, sanitize.Options{})
	text, secrets := corpus(200, 3)
	want, _ := s.Sanitize("stdout", text)
	for _, sec := range secrets {
		if strings.Contains(want, sec) {
			t.Fatalf("whole-text scan leaked %q", sec)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		got, _ := streamed(s, "stdout", text, func() int { return 1 + r.IntN(300) })
		if got != want {
			t.Fatalf("chunking %d differs from the whole-text scan", i)
		}
	}
}

// corpus is program-like output: log lines, JSON, numbers, prose, and a
// secret every `every` lines. It returns the secrets planted.
func corpus(lines, every int) (string, []string) {
	r := rand.New(rand.NewPCG(11, 12))
	var b strings.Builder
	var secrets []string
	filler := []func(i int) string{
		func(i int) string {
			return fmt.Sprintf("2026-11-26T20:%02d:%02dZ INFO handled request path=/api/v1/items/%d status=200 duration=%dms", i%60, i%60, i, r.IntN(900))
		},
		func(i int) string {
			return fmt.Sprintf(`{"id": %d, "name": "item-%d", "price": %.2f, "tags": ["a", "b"], "checksum": "%016x"}`, i, i, r.Float64()*100, r.Uint64())
		},
		func(i int) string {
			return fmt.Sprintf("epoch %d: loss=%.5f acc=%.4f lr=1e-3 (python 3.11.4, torch 2.1.0)", i, r.Float64(), r.Float64())
		},
		func(i int) string {
			return "  File \"/work/main.py\", line 12, in <module>\n    result = compute(values)  # the key step"
		},
		func(i int) string {
			return fmt.Sprintf("%8d %8d %8d %12.4f", i, i*i, i*i*i, float64(i)/7)
		},
		func(i int) string {
			return "The quick brown fox jumps over the lazy dog; they say money keys the monkey's task."
		},
	}
	plant := []func() string{
		func() string { return "AKIA" + rnd(r.Uint64(), upper, 16) },
		func() string { return "sk-proj-" + rnd(r.Uint64(), alnum, 40) },
		func() string { return "postgresql://app:" + rnd(r.Uint64(), alnum, 12) + "@db:5432/x" },
		func() string { return "ghp_" + rnd(r.Uint64(), alnum, 36) },
		func() string { return "10.2." + fmt.Sprint(r.IntN(256)) + "." + fmt.Sprint(r.IntN(256)) },
		func() string { return "user" + fmt.Sprint(r.IntN(1000)) + "@example.org" },
	}
	for i := 0; i < lines; i++ {
		b.WriteString(filler[i%len(filler)](i))
		if every > 0 && i%every == 0 {
			sec := plant[(i/every)%len(plant)]()
			secrets = append(secrets, sec)
			b.WriteString(" secret=" + sec)
		}
		b.WriteByte('\n')
	}
	return b.String(), secrets
}

// FuzzStream: whatever the text and chunking, the stream never panics,
// emits exactly one output per input byte position (nothing lost or
// duplicated), and never lets a planted key through.
func FuzzStream(f *testing.F) {
	f.Add("hello\nworld", uint8(3), uint8(0))
	f.Add(seedDemo, uint8(7), uint8(2))
	f.Add(pemKey, uint8(1), uint8(5))
	f.Add("a\x00b\xff\n10.0.0.1", uint8(2), uint8(1))
	s, err := sanitize.New(sanitize.Options{})
	if err != nil {
		f.Fatal(err)
	}
	key := "AKIA" + strings.Repeat("QZ7", 5) + "Q"
	f.Fuzz(func(t *testing.T, text string, chunk uint8, at uint8) {
		if len(text) > 4096 {
			return
		}
		pos := int(at) % (len(text) + 1)
		// Plant the key between separators so that no neighbouring
		// character can make it part of a longer token.
		planted := text[:pos] + " " + key + " " + text[pos:]
		got, _ := streamed(s, "stdout", planted, func() int { return int(chunk) + 1 })
		if strings.Contains(got, key) {
			t.Fatalf("planted key leaked: %q", got)
		}
		plain, _ := streamed(s, "stdout", text, func() int { return int(chunk) + 1 })
		if whole, det := s.Sanitize("stdout", text); len(det) == 0 && plain != whole {
			t.Fatalf("clean text changed by the stream: %q -> %q", text, plain)
		}
	})
}
