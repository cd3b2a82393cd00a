package exportkit

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkExport holds for any export that decoded: a known state, a size of
// at least -1, and an error exactly when the state is a failure.
func checkExport(t *testing.T, e Export) {
	t.Helper()
	switch s := e.State(); s {
	case StatePending, StateRunning, StateReady, StateUnknown:
		if e.Err() != nil {
			t.Fatalf("state %s with error %v", s, e.Err())
		}
	case StateFailed, StateExpired, StateCanceled:
		if e.Err() == nil {
			t.Fatalf("state %s without error", s)
		}
	default:
		t.Fatalf("state %q is not a State constant", s)
	}
	if e.Size() < -1 {
		t.Fatalf("size %d", e.Size())
	}
	_ = e.ExportID()
	_ = e.RawStatus()
	_ = e.Vendor()
}

func FuzzDecodeLogExport(f *testing.F) {
	f.Add(`{"id":"e","status":"COMPLETED","fileSizeBytes":1.5e3,"downloadUrl":"https://s3/x?sig=1"}`)
	f.Add(`{"data":{"id":"e","status":"FAILED","errorMessage":"boom"}}`)
	f.Add(`{"id":"e","status":"EXPIRED","fileSizeBytes":-1,"rowCount":null,"logType":null}`)
	f.Add(`{"id":"e","status":"pending","fileSizeBytes":1e300}`)
	f.Fuzz(func(t *testing.T, s string) {
		var e LogExport
		if json.Unmarshal([]byte(s), &e) == nil {
			checkExport(t, &e)
			_, _ = e.location()
		}
	})
}

func FuzzDecodeMemoryExport(f *testing.F) {
	f.Add(`{"id":"m","format":"json","status":"READY","user_id":null,"categories":["a"],"updated_at":"2026-01-15T10:30:00.000Z"}`)
	f.Add(`{"data":[{"id":"m","status":"FAILED"}],"meta":{"current_page":1,"per_page":10,"total":1,"last_page":1}}`)
	f.Add(`[{"id":"m","status":"EXPIRED"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		var e MemoryExport
		if json.Unmarshal([]byte(s), &e) == nil {
			checkExport(t, &e)
			_, _ = e.ExpiresAt()
		}
		var p MemoryExportPage
		if json.Unmarshal([]byte(s), &p) == nil {
			for _, e := range p.Data {
				if e != nil {
					checkExport(t, e)
				}
			}
		}
	})
}

func FuzzDecodeOrbit(f *testing.F) {
	f.Add(`{"data":{"export":{"id":"x","status":"completed","byteSize":10,"contentSha1":"abc","expiresAt":"2099-01-01T00:00:00Z"},"downloadUrl":"https://b2/f?Authorization=t","downloadUrlTtlSeconds":60},"meta":{"request_id":"r"}}`)
	f.Add(`{"data":[{"id":"r","audienceId":"a","status":"cancelled","errorCode":"X","errorMessage":"y","dataDate":"2026-01-01"}]}`)
	f.Add(`{"data":{"export":{"id":"x","status":"failed","errorCode":null}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var ex envelope[*AudienceExport]
		if json.Unmarshal([]byte(s), &ex) == nil && ex.Data != nil {
			checkExport(t, ex.Data)
			_, _ = ex.Data.location()
		}
		var runs envelope[[]*AudienceRun]
		if json.Unmarshal([]byte(s), &runs) == nil {
			for _, r := range runs.Data {
				if r != nil {
					checkExport(t, r)
				}
			}
		}
	})
}

func FuzzDecodeBotExport(f *testing.F) {
	f.Add(`{"_id":"ber-1","botId":"st-1","status":"success","downloadURL":"https://k/f.zip","fileSize":"947","__v":0,"store":{"urlParams":"p"}}`)
	f.Add(`{"status":"pending","status":"pending","streamId":"st-1","_id":"ber-2","fileSize":947}`)
	f.Add(`{"_id":"ber-3","status":"failed","fileSize":null,"__v":"1"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var e BotExport
		if json.Unmarshal([]byte(s), &e) == nil {
			checkExport(t, &e)
			_ = e.Bot()
			_, _ = e.location()
		}
	})
}

// FuzzDecodeErrorBody: any error body, of any content type, gives an
// APIError whose code and message are short, single-line and valid UTF-8.
func FuzzDecodeErrorBody(f *testing.F) {
	f.Add("application/json", `{"error":{"code":"EXPORT_NOT_READY","message":"not ready","details":{}},"meta":{"request_id":"r"}}`)
	f.Add("application/json", `{"error":"EXPORT_NOT_FOUND","message":"Export not found","statusCode":404}`)
	f.Add("application/json", `{"errors":[{"msg":"Invalid SDK credentials","code":4002}]}`)
	f.Add("application/json", `{"msg":"Invalid SDK credentials","code":4002}`)
	f.Add("text/html", `<html><title>502</title></html>`)
	f.Add("text/plain", "line1\nline2\x00")
	f.Add("application/json", `{"error":{"code":{"nested":true},"message":["x"]},"errors":"nope","meta":5}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		resp := &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {contentType}},
			Body: http.NoBody}
		resp.Body = readCloser{strings.NewReader(body)}
		e := newAPIError(Orbit, "get export", "x", resp, nil)
		for _, s := range []string{e.Code, e.Message, e.RequestID, e.Error()} {
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
				t.Fatalf("unsafe text %q", s)
			}
		}
		if len(e.Message) > 304 || len(e.Code) > 68 {
			t.Fatalf("message %d bytes, code %d bytes", len(e.Message), len(e.Code))
		}
	})
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// FuzzResumeToken: any string either decodes to a state that passes
// validation and encodes back to the same token, or fails with
// ErrBadResumeToken; it never panics and never reaches a request.
func FuzzResumeToken(f *testing.F) {
	for _, st := range []resumeState{
		{Vendor: Brainbase, Kind: kindLogExport, ID: "exp_1"},
		{Vendor: Orbit, Kind: kindAudienceExport, ID: "x", AudienceID: "a", RunID: "r"},
		{Vendor: Kore, Kind: kindBotExport, ID: "ber-1", BotID: "st-1"},
	} {
		tok, err := encodeToken(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
	}
	f.Add("ek1..")
	f.Add("ek2.e30.00000000")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		st, err := decodeToken(tok)
		if err != nil {
			if !errors.Is(err, ErrBadResumeToken) {
				t.Fatalf("error %v does not match ErrBadResumeToken", err)
			}
			return
		}
		if err := st.validate(); err != nil {
			t.Fatalf("decoded an invalid state %+v: %v", st, err)
		}
		again, err := encodeToken(st)
		if err != nil {
			t.Fatal(err)
		}
		if st2, err := decodeToken(again); err != nil || st2 != st {
			t.Fatalf("round trip of %q: %+v, %v", tok, st2, err)
		}
	})
}
