package mcputil

import (
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/display"
)

// ResultContent is a run's (or a session step's) content for the model:
// the verdict and output as text (ResultText), then what the program
// showed (Result.Display: PNG figures as images, SVG figures as embedded
// resources, a value's text as text; its HTML is left to the structured
// content), then each collected file as an embedded resource, text when
// it is UTF-8 and base64 otherwise. The structured content (the Result)
// has the display items and files too.
func ResultContent(r *sandrun.Result) []mcp.Content {
	out := []mcp.Content{&mcp.TextContent{Text: ResultText(r)}}
	for _, d := range r.Display {
		switch d.MIME {
		case display.PNG:
			if b, err := d.Bytes(); err == nil {
				out = append(out, &mcp.ImageContent{Data: b, MIMEType: d.MIME})
			}
		case display.SVG:
			out = append(out, &mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: DisplayURI(r, d), MIMEType: d.MIME, Text: d.Data}})
		case display.Text:
			out = append(out, &mcp.TextContent{Text: fmt.Sprintf("output %d (%s):\n%s", d.Output, d.Source, d.Data)})
		}
	}
	for _, f := range r.Files {
		rc := &mcp.ResourceContents{URI: FileURI(r, f.Name), MIMEType: mimeOf(f)}
		if utf8.Valid(f.Content) && !strings.ContainsRune(string(f.Content), 0) {
			rc.Text = string(f.Content)
		} else {
			rc.Blob = f.Content
		}
		out = append(out, &mcp.EmbeddedResource{Resource: rc})
	}
	return out
}

// DisplayURI names a display item: sandrun://runs/ID/display/N.svg.
func DisplayURI(r *sandrun.Result, d sandrun.Display) string {
	ext := ".txt"
	if e, _ := mime.ExtensionsByType(d.MIME); len(e) > 0 {
		ext = e[0]
	}
	return "sandrun://runs/" + url.PathEscape(r.ID) + "/display/" + fmt.Sprint(d.Output) + ext
}

// FileURI names a collected file: sandrun://runs/ID/files/NAME.
func FileURI(r *sandrun.Result, name string) string {
	return "sandrun://runs/" + url.PathEscape(r.ID) + "/files/" + (&url.URL{Path: name}).EscapedPath()
}

func mimeOf(f sandrun.OutputFile) string {
	if t := mime.TypeByExtension(path.Ext(f.Name)); t != "" {
		return t
	}
	if utf8.Valid(f.Content) {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// ResultText renders a Result for a language model: the verdict first,
// then the output in fenced blocks, then notes (truncation, redaction,
// files, warnings).
func ResultText(r *sandrun.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status: %s", r.Status)
	if r.ExitCode >= 0 {
		fmt.Fprintf(&b, " (exit code %d)", r.ExitCode)
	}
	if r.Signal != "" {
		fmt.Fprintf(&b, " (signal %s)", r.Signal)
	}
	fmt.Fprintf(&b, ", %d ms, %s backend\n", r.Usage.WallMs, r.Backend)
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	block := func(name, text string, truncated bool) {
		if text == "" {
			fmt.Fprintf(&b, "%s: (empty)\n", name)
			return
		}
		fence := "```"
		for strings.Contains(text, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "%s:\n%s\n%s", name, fence, text)
		if !strings.HasSuffix(text, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(fence + "\n")
		if truncated {
			fmt.Fprintf(&b, "(%s was cut at the output limit)\n", name)
		}
	}
	block("stdout", r.Stdout, r.StdoutTruncated)
	block("stderr", r.Stderr, r.StderrTruncated)
	for _, d := range r.Detections {
		fmt.Fprintf(&b, "note: %d secret(s) matching %s were redacted from %s\n", d.Count, d.Rule, d.Stream)
	}
	for _, d := range r.Display {
		switch {
		case d.Width > 0:
			fmt.Fprintf(&b, "display: output %d, %s %s %dx%d (%d bytes), attached\n", d.Output, d.Source, d.MIME, d.Width, d.Height, d.Size)
		case d.MIME != display.HTML:
			fmt.Fprintf(&b, "display: output %d, %s %s (%d bytes), attached\n", d.Output, d.Source, d.MIME, d.Size)
		}
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "file: %s (%d bytes, sha256 %s): attached as %s\n", f.Name, f.Size, f.SHA256, FileURI(r, f.Name))
	}
	if r.FilesTruncated {
		b.WriteString("note: more files matched the collect patterns than are returned\n")
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
