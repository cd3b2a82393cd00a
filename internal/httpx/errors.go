package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
)

// redactedURLError is a *url.Error with its URL redacted: net/http puts the
// whole URL, signed query included, in its errors.
type redactedURLError struct {
	op, url string
	err     error
}

func (e *redactedURLError) Error() string {
	return e.op + " " + e.url + ": " + RedactText(e.err.Error())
}
func (e *redactedURLError) Unwrap() error { return e.err }

// Timeout reports whether the underlying error was a timeout.
func (e *redactedURLError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// CleanError redacts the URL in a *url.Error and keeps its cause for
// errors.Is and errors.As.
func CleanError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if p, perr := url.Parse(u); perr == nil {
			u = RedactURL(p)
		} else {
			u = RedactURLString(u)
		}
		return &redactedURLError{op: ue.Op, url: u, err: ue.Err}
	}
	return err
}

// RetryableTransportError is false for transport errors that another
// attempt cannot fix: bad certificates, TLS spoken to a server that does
// not (https:// to an http server), a host name that does not exist, an
// unsupported scheme, a context that ended.
func RetryableTransportError(err error) bool {
	var (
		unknownCA *x509.UnknownAuthorityError
		verify    *tls.CertificateVerificationError
		hostname  x509.HostnameError
		record    tls.RecordHeaderError
		dns       *net.DNSError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &verify), errors.As(err, &hostname),
		errors.As(err, &record),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &dns) && dns.IsNotFound:
		return false
	}
	msg := err.Error()
	return !strings.Contains(msg, "unsupported protocol scheme") &&
		!strings.Contains(msg, "server gave HTTP response to HTTPS client") // net/http's words for a RecordHeaderError
}
