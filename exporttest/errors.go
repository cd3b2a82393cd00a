package exporttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// obj is a JSON object on the wire. Keys with nil values encode as null.
type obj = map[string]any

// writeJSON sends v as the whole response with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"message":"exporttest: encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// orbitMeta is the meta object of every Orbit response.
func orbitMeta(w http.ResponseWriter) obj {
	id := w.Header().Get("X-Request-Id")
	if id == "" {
		id = "req_" + randHex(12)
		w.Header().Set("X-Request-Id", id)
	}
	return obj{"timestamp": stamp(time.Now()), "request_id": id}
}

// defaultCode is the error code vendor v sends with status code.
func defaultCode(v exportkit.Vendor, code int) string {
	if v == exportkit.Kore {
		if code == http.StatusUnauthorized {
			return "4002"
		}
		return strconv.Itoa(code)
	}
	switch code {
	case http.StatusBadRequest:
		return "VALIDATION_ERROR"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "FORBIDDEN"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED"
	case http.StatusConflict:
		return "CONFLICT"
	case http.StatusTooManyRequests:
		return "RATE_LIMIT_EXCEEDED"
	case http.StatusServiceUnavailable:
		return "SERVICE_UNAVAILABLE"
	}
	if code >= 500 {
		return "INTERNAL_ERROR"
	}
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(code), " ", "_"))
}

// defaultMessage is the error message vendor v sends with status code.
func defaultMessage(v exportkit.Vendor, code int) string {
	switch {
	case code == http.StatusTooManyRequests && v == exportkit.Kore:
		return "Rate limit for this API has been reached. Please try again later"
	case code == http.StatusTooManyRequests:
		return "Rate limit exceeded"
	case code == http.StatusUnauthorized && v == exportkit.Kore:
		return "Invalid SDK credentials"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return fmt.Sprintf("HTTP %d", code)
}

// writeError sends vendor v's error body: Brainbase {"message"} (its real
// shape is undocumented), Memsolus flat {"error","message","statusCode"},
// Orbit {"error":{code,message,details},"meta"}, Kore
// {"errors":[{"msg","code"}]} or flat {"msg","code"}. An empty errCode or
// message takes the vendor's default for status code.
func (s *Server) writeError(w http.ResponseWriter, v exportkit.Vendor, code int, errCode, message string) {
	if errCode == "" {
		errCode = defaultCode(v, code)
	}
	if message == "" {
		message = defaultMessage(v, code)
	}
	switch v {
	case exportkit.Memsolus:
		writeJSON(w, code, obj{"error": errCode, "message": message, "statusCode": code})
	case exportkit.Orbit:
		writeJSON(w, code, obj{"error": obj{"code": errCode, "message": message, "details": nil}, "meta": orbitMeta(w)})
	case exportkit.Kore:
		var c any = errCode
		if n, err := strconv.Atoi(errCode); err == nil {
			c = n
		}
		e := obj{"msg": message, "code": c}
		if s.cfg.koreFlatErrors {
			writeJSON(w, code, e)
			return
		}
		writeJSON(w, code, obj{"errors": []obj{e}})
	case exportkit.Brainbase:
		writeJSON(w, code, obj{"message": message, "code": errCode, "statusCode": code})
	default:
		http.Error(w, message, code)
	}
}
