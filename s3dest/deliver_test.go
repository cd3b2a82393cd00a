package s3dest_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/exportkit/exportkit"
)

func TestDeliverSizes(t *testing.T) {
	sizes := []struct {
		name string
		n    int64
	}{
		{"1B", 1},
		{"5MiB-1", 5<<20 - 1},
		{"5MiB", 5 << 20},
		{"64MiB", 64 << 20},
	}
	// 1 GiB: under CI=true without the race detector (three and a half
	// minutes with it), or with EXPORTKIT_S3_LARGE=1.
	if !testing.Short() && (os.Getenv("EXPORTKIT_S3_LARGE") != "" || (os.Getenv("CI") == "true" && !raceOn)) {
		sizes = append(sizes, struct {
			name string
			n    int64
		}{"1GiB", 1 << 30})
	}
	for _, tc := range sizes {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			st.countParts()
			src := newSource(t, tc.n)
			key := "exports/" + tc.name + ".bin"
			res, err := src.c.DownloadTo(context.Background(), src.export(t), st.dest(key), exportkit.WithPartSize(5<<20))
			require.NoError(t, err)
			r, n := src.reader(t)
			assert.True(t, st.sameObject(key, r, n), "byte-identical")
			assert.Equal(t, tc.n, res.Bytes)
			assert.True(t, res.Verified)
			assert.Len(t, res.SHA1, 40)
			assert.NotEmpty(t, res.CRC64NVME)
			assert.Equal(t, "s3://"+st.bucket+"/"+key, res.Location)
			assert.Empty(t, st.openUploads())
			credentialsStayHome(t, st, src)
		})
	}
}
