package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/httpx"
)

// exportView is how the command prints an export, as text or as JSON. Its
// id is the one the other commands take (Orbit's AUDIENCE/RUN/EXPORT, the
// bot id for Kore), so that a script can pass it straight on.
//
// A signed download URL grants the file to whoever holds it: unless
// --show-url is given, every URL in the view, raw included, has its query
// values replaced by REDACTED (the keys are kept), as in the SDK's logs.
type exportView struct {
	Vendor      exportkit.Vendor `json:"vendor"`
	ID          string           `json:"id"`
	ExportID    string           `json:"export_id"` // the vendor's id of the job
	State       exportkit.State  `json:"state"`
	Status      string           `json:"status"`                 // the vendor's own status string
	Size        *int64           `json:"size,omitempty"`         // absent when the vendor does not say
	DownloadURL string           `json:"download_url,omitempty"` // the vendor's download URL, if it sent one
	Error       *errorView       `json:"error,omitempty"`
	Raw         json.RawMessage  `json:"raw"` // the vendor's object as it was read
}

// errorView is an export's failure, or a command's error, in JSON.
type errorView struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func viewOf(e exportkit.Export, showURL bool) exportView {
	v := exportView{
		Vendor: e.Vendor(), ID: cliID(e), ExportID: e.ExportID(),
		State: e.State(), Status: e.RawStatus(),
	}
	if n := e.Size(); n >= 0 {
		v.Size = &n
	}
	var ee *exportkit.ExportError
	if errors.As(e.Err(), &ee) {
		v.Error = &errorView{Code: ee.Code, Message: ee.Message}
	}
	v.Raw, v.DownloadURL = rawJSON(e, showURL)
	return v
}

// rawJSON is e as JSON, its URLs and bare queries redacted unless showURL,
// and the download URL found in it: the value of a field named downloadUrl
// in any case, the name every vendor that sends one uses.
func rawJSON(e exportkit.Export, showURL bool) (json.RawMessage, string) {
	b, err := json.Marshal(e)
	if err != nil {
		return json.RawMessage("null"), ""
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var tree any
	if d.Decode(&tree) != nil {
		return json.RawMessage("null"), ""
	}
	var dl string
	tree = walkJSON(tree, func(key, s string) string {
		if !showURL {
			s = redactValue(s)
		}
		if dl == "" && strings.EqualFold(key, "downloadUrl") {
			dl = s
		}
		return s
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(tree) != nil {
		return json.RawMessage("null"), ""
	}
	return bytes.TrimSpace(buf.Bytes()), dl
}

// walkJSON replaces every string in a decoded JSON value by f(its key, it).
func walkJSON(v any, f func(key, s string) string) any {
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				v[k] = walk(k, x)
			}
		case []any:
			for i, x := range v {
				v[i] = walk(key, x)
			}
		case string:
			return f(key, v)
		}
		return v
	}
	return walk("", v)
}

// redactValue redacts a string that is a URL with a query, or a bare query
// ("e=…&sig=…", Kore's store.urlParams), with the SDK's own redaction:
// keys kept, values REDACTED.
func redactValue(s string) string {
	switch {
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		return httpx.RedactURLString(s)
	case strings.Contains(s, "=") && !strings.ContainsAny(s, " \t\r\n"):
		return strings.TrimPrefix(httpx.RedactText("?"+strings.TrimPrefix(s, "?")), "?")
	}
	return s
}

// cliID is the id of e as the commands take it.
func cliID(e exportkit.Export) string {
	switch e := e.(type) {
	case *exportkit.AudienceRun:
		return e.AudienceID + "/" + e.ID
	case *exportkit.AudienceExport:
		r := e.Ref()
		return r.AudienceID + "/" + r.RunID + "/" + r.ExportID
	case *exportkit.BotExport:
		return e.Bot()
	}
	return e.ExportID()
}

// writeJSON writes v as indented JSON, without escaping &, < and > (a
// URL's & stays an &).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printExport writes e as a short block of "name  value" lines, or as JSON.
func printExport(w io.Writer, e exportkit.Export, asJSON, showURL bool) error {
	v := viewOf(e, showURL)
	if asJSON {
		return writeJSON(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "vendor\t%s\n", v.Vendor)
	fmt.Fprintf(tw, "id\t%s\n", v.ID)
	if v.ExportID != v.ID && !strings.HasSuffix(v.ID, "/"+v.ExportID) {
		fmt.Fprintf(tw, "export id\t%s\n", v.ExportID)
	}
	fmt.Fprintf(tw, "state\t%s (%s)\n", v.State, v.Status)
	if v.Size != nil {
		fmt.Fprintf(tw, "size\t%s (%d bytes)\n", formatBytes(*v.Size), *v.Size)
	}
	if v.Error != nil {
		msg := joinNonEmpty(": ", v.Error.Code, v.Error.Message)
		if msg == "" {
			msg = "no code or message from the vendor"
		}
		fmt.Fprintf(tw, "error\t%s\n", msg)
	}
	if v.DownloadURL != "" {
		fmt.Fprintf(tw, "url\t%s\n", v.DownloadURL)
	}
	return tw.Flush()
}

// printList writes exports as a table, or as a JSON array.
func printList(w io.Writer, es []exportkit.Export, asJSON, showURL bool) error {
	if asJSON {
		vs := make([]exportView, 0, len(es))
		for _, e := range es {
			vs = append(vs, viewOf(e, showURL))
		}
		return writeJSON(w, vs)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSTATUS\tSIZE")
	for _, e := range es {
		size := "-"
		if n := e.Size(); n >= 0 {
			size = formatBytes(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cliID(e), e.State(), e.RawStatus(), size)
	}
	return tw.Flush()
}

// downloadView is the summary of a download.
type downloadView struct {
	Vendor      exportkit.Vendor `json:"vendor"`
	ID          string           `json:"id"`
	Path        string           `json:"path"` // "-" for stdout
	Bytes       int64            `json:"bytes"`
	SHA1        string           `json:"sha1,omitempty"` // absent unless the vendor gave one to verify or --sha1 was given
	Verified    bool             `json:"verified"`
	Resumes     int              `json:"resumes"`
	Reused      int64            `json:"reused"` // bytes kept from an earlier interrupted run's partial file
	Parts       int              `json:"parts"`  // ranged parts fetched; 1 for one stream
	ContentType string           `json:"content_type,omitempty"`
	FileName    string           `json:"file_name,omitempty"` // the server's suggestion, sanitized
}

func printDownload(w io.Writer, v downloadView, asJSON bool) error {
	if asJSON {
		return writeJSON(w, v)
	}
	verified := "not verified: the vendor gave no size or checksum"
	if v.Verified {
		verified = "verified"
	}
	where := v.Path
	if where == "-" {
		where = "stdout"
	}
	sum := "sha1 " + v.SHA1
	if v.SHA1 == "" {
		sum = "sha1 not computed (the vendor gives none; --sha1 to compute)"
	}
	_, err := fmt.Fprintf(w, "%s: %s (%d bytes), %s, %s%s\n",
		where, formatBytes(v.Bytes), v.Bytes, sum, verified, plural(v.Resumes, ", resumed %d time", ", resumed %d times"))
	return err
}

// stateLine is a task's status while it waits: "running (PROCESSING), poll 3".
func stateLine(e exportkit.Export, polls int) string {
	s := fmt.Sprintf("%s (%s)", e.State(), e.RawStatus())
	if polls > 0 {
		s += fmt.Sprintf(", poll %d", polls)
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// plural formats n with one when n is 1, many otherwise, and "" for 0.
func plural(n int, one, many string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(many, n)
}
