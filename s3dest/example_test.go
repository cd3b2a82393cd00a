package s3dest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

// Deliver an export straight into a bucket, resumable after a crash.
func Example() {
	ctx := context.Background()
	c, err := exportkit.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	e, err := c.Exports.Wait(ctx, "exp_123")
	if err != nil {
		log.Fatal(err)
	}
	dest, err := s3dest.New(ctx, "s3://my-bucket/exports/logs.csv",
		s3dest.WithStateFile("logs.csv.s3state"), // a killed run goes on from the parts already stored
		s3dest.WithMemoryLimit(64<<20))           // at most 64 MiB of parts in memory
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.DownloadTo(ctx, e, dest, exportkit.WithConnections(8), exportkit.WithPartSize(8<<20))
	if err != nil {
		log.Fatal(err) // nothing is visible at the key, and no upload is left open
	}
	fmt.Println(res.Location, res.Bytes, res.SHA1, res.CRC64NVME)
}

// Abort the uploads that killed deliveries left under a prefix.
func ExampleClean() {
	found, err := s3dest.Clean(context.Background(), "s3://my-bucket/exports/", 24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range found {
		fmt.Println(u.Key, u.UploadID, u.Aborted)
	}
}
