package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/exportkit/exportkit"
)

// exportView is how the command prints an export, as text or as JSON. Its
// id is the one the other commands take (Orbit's AUDIENCE/RUN/EXPORT, the
// bot id for Kore), so that a script can pass it straight on.
type exportView struct {
	Vendor   exportkit.Vendor `json:"vendor"`
	ID       string           `json:"id"`
	ExportID string           `json:"export_id"` // the vendor's id of the job
	State    exportkit.State  `json:"state"`
	Status   string           `json:"status"`         // the vendor's own status string
	Size     *int64           `json:"size,omitempty"` // absent when the vendor does not say
	Error    *errorView       `json:"error,omitempty"`
	Raw      exportkit.Export `json:"raw"` // the vendor's object as it was read
}

// errorView is an export's failure, or a command's error, in JSON.
type errorView struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

func viewOf(e exportkit.Export) exportView {
	v := exportView{
		Vendor: e.Vendor(), ID: cliID(e), ExportID: e.ExportID(),
		State: e.State(), Status: e.RawStatus(), Raw: e,
	}
	if n := e.Size(); n >= 0 {
		v.Size = &n
	}
	var ee *exportkit.ExportError
	if errors.As(e.Err(), &ee) {
		v.Error = &errorView{Code: ee.Code, Message: ee.Message}
	}
	return v
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printExport writes e as a short block of "name  value" lines, or as JSON.
func printExport(w io.Writer, e exportkit.Export, asJSON bool) error {
	v := viewOf(e)
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
		fmt.Fprintf(tw, "error\t%s\n", joinNonEmpty(": ", v.Error.Code, v.Error.Message))
	}
	return tw.Flush()
}

// printList writes exports as a table, or as a JSON array.
func printList(w io.Writer, es []exportkit.Export, asJSON bool) error {
	if asJSON {
		vs := make([]exportView, 0, len(es))
		for _, e := range es {
			vs = append(vs, viewOf(e))
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
	SHA1        string           `json:"sha1"` // "" unless the vendor gave one to verify or --sha1 was given
	Verified    bool             `json:"verified"`
	Resumes     int              `json:"resumes"`
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
