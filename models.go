package exportkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FlexInt64 is an integer that a vendor may send as a JSON number or as a
// string of digits (Kore's fileSize is "947"). null and "" decode as unset.
type FlexInt64 struct {
	Value int64
	Valid bool
}

// UnmarshalJSON accepts 947, 947.0, "947", null and "".
func (f *FlexInt64) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*f = FlexInt64{}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = FlexInt64{Value: n, Valid: true}
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v > math.MaxInt64 || v < math.MinInt64 {
		return fmt.Errorf("%.32q is not an integer", s)
	}
	*f = FlexInt64{Value: int64(v), Valid: true}
	return nil
}

// MarshalJSON writes the number, or null when unset.
func (f FlexInt64) MarshalJSON() ([]byte, error) {
	if !f.Valid {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, f.Value, 10), nil
}

// sizeOf turns an optional size into Size()'s convention: -1 when unknown.
func sizeOf(n int64, ok bool) int64 {
	if !ok || n < 0 {
		return -1
	}
	return n
}

// floatSize converts a size sent as a JSON number that may be fractional
// (Brainbase's fileSizeBytes) to whole bytes, or -1.
func floatSize(f *float64) int64 {
	if f == nil || math.IsNaN(*f) || *f < 0 || *f > math.MaxInt64 {
		return -1
	}
	return int64(math.Round(*f))
}

// stateMap maps a vendor's status strings (compared case-insensitively) to
// normalized states; anything else is StateUnknown.
type stateMap map[string]State

func (m stateMap) of(raw string) State {
	if s, ok := m[strings.ToLower(strings.TrimSpace(raw))]; ok {
		return s
	}
	return StateUnknown
}

// envelope is Orbit's success body: {data, meta:{timestamp, request_id}}.
type envelope[T any] struct {
	Data T     `json:"data"`
	Meta *Meta `json:"meta"`
}

// Meta is the metadata Orbit sends with every response.
type Meta struct {
	Timestamp string `json:"timestamp"`
	RequestID string `json:"request_id"`
}

func (m *Meta) requestID() string {
	if m == nil {
		return ""
	}
	return m.RequestID
}
