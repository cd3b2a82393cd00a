package bench

// Downloads from a server that honours Range, as S3 and B2 do: where the
// SDK fetches in parallel parts, this is what they cost over loopback, in
// time against one bare stream and in heap against issue 10's bound of
// 4 MiB + connections × part size.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// NewRangeServer is [NewDownloadServer] that also honours one byte range
// (bytes=S-E or bytes=S-, answered 206 with Content-Range), advertises
// Accept-Ranges, and answers an If-Match other than its ETag with 412.
func NewRangeServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		etag := `"bench-` + strconv.FormatInt(n, 10) + `"`
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Type", "application/octet-stream")
		if im := r.Header.Get("If-Match"); im != "" && im != etag {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		start, end, status := int64(0), n, http.StatusOK
		if rg := r.Header.Get("Range"); rg != "" && n > 0 {
			s, e, ok := byteRange(rg, n)
			if !ok {
				h.Set("Content-Range", "bytes */"+strconv.FormatInt(n, 10))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			start, end, status = s, e+1, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, e, n))
		}
		h.Set("Content-Length", strconv.FormatInt(end-start, 10))
		w.WriteHeader(status)
		for off := start; off < end; {
			i := off % int64(len(pattern))
			m := min(end-off, int64(len(pattern))-i)
			if _, err := w.Write(pattern[i : i+m]); err != nil {
				return
			}
			off += m
		}
	}))
}

// byteRange parses one range of a Range header for a file of n bytes.
func byteRange(h string, n int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found || a == "" {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= n {
		return 0, 0, false
	}
	end = n - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return 0, 0, false
		}
		end = min(end, n-1)
	}
	return start, end, true
}

// PartsReport compares exportkit's Download from a server that honours
// Range (in parts, where the SDK makes them) with one bare io.CopyBuffer
// stream of the same file, the size verified and nothing hashed.
type PartsReport struct {
	Size           int64
	SDK, Copy      float64 // MB/s, medians of the rounds
	Ratio          float64 // SDK / Copy
	PeakHeapGrowth uint64  // bytes, during the SDK downloads
}

// MeasureParts downloads size bytes rounds times each way, interleaved,
// from a [NewRangeServer], and reports the medians and the peak heap
// growth of exportkit's downloads. opts go to every SDK download.
func MeasureParts(ctx context.Context, size int64, rounds int, opts ...exportkit.DownloadOption) (PartsReport, error) {
	srv := NewRangeServer()
	defer srv.Close()
	c, err := NewClient()
	if err != nil {
		return PartsReport{}, err
	}
	r := PartsReport{Size: size}
	sdk := func() error { return SDK(ctx, c, srv, size, opts...) }
	cp := func() error { return Copy(ctx, srv, size) }
	for _, f := range []func() error{sdk, cp} { // warm up
		if err := f(); err != nil {
			return r, err
		}
	}
	var sdkMBps, copyMBps []float64
	for round := range rounds {
		for k := range 2 {
			if (k+round)%2 == 0 {
				heap := StartHeapSampler() // collects garbage first
				start := time.Now()
				err := sdk()
				d := time.Since(start)
				r.PeakHeapGrowth = max(r.PeakHeapGrowth, heap.Stop())
				if err != nil {
					return r, err
				}
				sdkMBps = append(sdkMBps, float64(size)/d.Seconds()/1e6)
				continue
			}
			start := time.Now()
			if err := cp(); err != nil {
				return r, err
			}
			copyMBps = append(copyMBps, float64(size)/time.Since(start).Seconds()/1e6)
		}
	}
	r.SDK, r.Copy = median(sdkMBps), median(copyMBps)
	r.Ratio = r.SDK / r.Copy
	return r, nil
}
