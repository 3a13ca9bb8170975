package download

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"syscall"

	"github.com/google/renameio/v2"
)

// maxSidecar bounds the sidecar file read back: a URL, a validator and a
// size fit in far less.
const maxSidecar = 4 << 10

// sidecar is what a later process needs to continue a partial file: which
// URL and which representation its bytes are from.
type sidecar struct {
	Format       int    `json:"format"` // sidecarFormat
	URL          string `json:"url"`
	Key          string `json:"resume_key,omitempty"` // Options.ResumeKey
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Size         int64  `json:"size"` // -1: not known
}

const sidecarFormat = 1

// maxResumeKey bounds Options.ResumeKey.
const maxResumeKey = 1 << 10

// readSidecar reads and checks the sidecar at path; a missing one is
// (nil, nil). It reads only a regular file of this process's own, never
// through a symbolic link.
func readSidecar(path string) (*sidecar, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s is %s", ErrSidecar, path, fileType(fi.Mode()))
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil {
		err = checkOwn(fi)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s %v", ErrSidecar, path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSidecar+1))
	if err != nil {
		return nil, err
	}
	return parseSidecar(b)
}

// parseSidecar parses a sidecar strictly: one JSON object of at most
// maxSidecar bytes with only known fields, the format this package writes,
// an absolute https URL, at most one strong validator and a size of -1 or
// more.
func parseSidecar(b []byte) (*sidecar, error) {
	if len(b) > maxSidecar {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrSidecar, maxSidecar)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s sidecar
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSidecar, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrSidecar)
	}
	u, err := url.Parse(s.URL)
	switch {
	case s.Format != sidecarFormat:
		return nil, fmt.Errorf("%w: format %d, not %d", ErrSidecar, s.Format, sidecarFormat)
	case err != nil || !u.IsAbs() || u.Host == "":
		return nil, fmt.Errorf("%w: bad URL %q", ErrSidecar, s.URL)
	case s.ETag != "" && s.LastModified != "":
		return nil, fmt.Errorf("%w: two validators", ErrSidecar)
	case s.ETag != "" && !strongETag(s.ETag):
		return nil, fmt.Errorf("%w: %q is not a strong entity tag", ErrSidecar, s.ETag)
	case len(s.Key) > maxResumeKey:
		return nil, fmt.Errorf("%w: a resume key of %d bytes", ErrSidecar, len(s.Key))
	case s.Size < -1:
		return nil, fmt.Errorf("%w: size %d", ErrSidecar, s.Size)
	}
	if s.LastModified != "" {
		if _, err := parseHTTPTime(s.LastModified); err != nil {
			return nil, fmt.Errorf("%w: bad Last-Modified %q", ErrSidecar, s.LastModified)
		}
	}
	return &s, nil
}

// writeSidecar replaces the sidecar at path atomically and durably.
func writeSidecar(path string, s *sidecar) error {
	s.Format = sidecarFormat
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return renameio.WriteFile(path, append(b, '\n'), 0o644)
}
