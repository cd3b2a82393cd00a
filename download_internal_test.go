package exportkit

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every spelling of a credential header goes, whatever put it there.
func TestStripCredentials(t *testing.T) {
	h := http.Header{
		"x-api-key": {"a"}, "X-Api-Key": {"b"}, "X-API-Key": {"c"}, "Authorization": {"d"},
		"auth": {"e"}, "Auth": {"f"}, "cookie": {"g"}, "Proxy-Authorization": {"h"},
		"Range": {"bytes=1-"}, "User-Agent": {"exportkit"},
	}
	stripCredentials(h)
	assert.Equal(t, http.Header{"Range": {"bytes=1-"}, "User-Agent": {"exportkit"}}, h)
}
