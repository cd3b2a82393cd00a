// Command sdkonly is the smallest program that delivers an export into an
// S3 bucket with exportkit's SDK: Client.DownloadTo into an s3dest
// destination, nothing else. s3bench runs it beside `exportkit download
// -o s3://` to tell the memory of the transfer and the SDK from the
// command's own:
//
//	sdkonly API_URL AUDIENCE/RUN/EXPORT s3://BUCKET/KEY?… CONNECTIONS PART_SIZE
//
// The Orbit key comes from LEADPIPE_API_KEY, the bucket's credentials from
// the AWS default chain.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("sdkonly: ")
	if len(os.Args) != 6 {
		log.Fatal("usage: sdkonly API_URL AUDIENCE/RUN/EXPORT s3://BUCKET/KEY CONNECTIONS PART_SIZE")
	}
	ref := strings.Split(os.Args[2], "/")
	conns, err1 := strconv.Atoi(os.Args[4])
	partSize, err2 := strconv.ParseInt(os.Args[5], 10, 64)
	if len(ref) != 3 || err1 != nil || err2 != nil {
		log.Fatal("bad arguments")
	}
	ctx := context.Background()
	c, err := exportkit.NewClient(exportkit.WithBaseURL(exportkit.Orbit, os.Args[1]),
		exportkit.WithOrbitAPIKey(os.Getenv(exportkit.EnvLeadpipeAPIKey)))
	if err != nil {
		log.Fatal(err)
	}
	e, err := c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: ref[0], RunID: ref[1], ExportID: ref[2]})
	if err != nil {
		log.Fatal(err)
	}
	d, err := s3dest.New(ctx, os.Args[3], s3dest.WithForce())
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.DownloadTo(ctx, e, d, exportkit.WithConnections(conns), exportkit.WithPartSize(partSize))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Location, res.Bytes, res.CRC64NVME)
}
