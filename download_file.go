package exportkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// downloadFile downloads to path atomically: the bytes go to path.partial
// in the same directory (so that the rename cannot cross file systems),
// which is synced and renamed over path only once the download is complete
// and verified. On any failure, cancellation included, the partial file is
// removed and whatever was at path is left as it was.
//
// Two downloads to the same path at once would write the same partial
// file: the partial file is locked while it is written (where the system
// has advisory locks; elsewhere it is created exclusively), and the second
// download fails at once instead of interleaving its bytes.
func (c *Client) downloadFile(ctx context.Context, src *fileSource, path string, opts []DownloadOption) (res *DownloadResult, err error) {
	ctx, dt := c.tel.startDownload(ctx, src)
	defer func() { dt.end(res, err) }()
	if path == "" {
		return nil, &inputError{errors.New("exportkit: download: empty path")}
	}
	if _, err := newDownloadConfig(opts); err != nil {
		return nil, err
	}
	partial := path + ".partial"
	f, err := createPartial(partial)
	if err != nil {
		return nil, opError(src.vendor, "download", src.id, err)
	}
	// Writeback starts while the bytes arrive, so that the Sync in
	// commitPartial has little left to flush (see newFileWriter).
	res, err = c.download(ctx, src, newFileWriter(f), opts)
	if err == nil {
		err = commitPartial(f, partial, path)
	}
	if err != nil {
		discardPartial(f, partial)
		return nil, c.fileError(src, err)
	}
	// The directory entry of the rename must reach the disk too.
	syncDir(filepath.Dir(path))
	return res, nil
}

// fileError wraps a file system error with the vendor and id, unless it
// already has them.
func (c *Client) fileError(src *fileSource, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return opError(src.vendor, "download", src.id, fmt.Errorf("save file: %w", err))
	}
	return err
}

// commitPartial syncs the partial file and renames it over path. Where
// open files can be renamed, the rename happens before the close, while
// the lock is still held, so that no other download can take the partial
// file in between.
func commitPartial(f *os.File, partial, path string) error {
	if err := f.Sync(); err != nil {
		return err
	}
	if renameOpenFiles {
		if err := os.Rename(partial, path); err != nil {
			return err
		}
		// The data is on disk and in place: a close error cannot lose it.
		f.Close()
		return nil
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(partial, path)
}

// discardPartial removes the partial file, while the lock is held where
// that is possible.
func discardPartial(f *os.File, partial string) {
	if renameOpenFiles {
		os.Remove(partial)
		f.Close()
		return
	}
	f.Close()
	os.Remove(partial)
}
