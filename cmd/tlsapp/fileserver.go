package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// fileServerOptions are the policies of serve's file server.
type fileServerOptions struct {
	allowDotfiles bool
	maxRanges     int       // a Range header with more ranges gets the whole body
	log           io.Writer // one line per request; nil for none
}

// newFileServer serves the files under root (an os.Root, so that no path
// and no symbolic link leads out of it). Names starting with a dot are
// hidden (not found, not listed) unless allowed; a Range header with more
// than maxRanges ranges is ignored (RFC 9110, section 14.2), so that the
// answer is never larger than the whole file; every request is logged.
func newFileServer(root *os.Root, o fileServerOptions) http.Handler {
	fsys := rootFS{fsys: root.FS(), dotfiles: o.allowDotfiles}
	files := http.FileServerFS(fsys)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rg := r.Header.Get("Range"); rg != "" && countRanges(rg) > o.maxRanges {
			r.Header.Del("Range")
		}
		if tag := etag(fsys, r.URL.Path); tag != "" {
			w.Header().Set("ETag", tag)
		}
		files.ServeHTTP(w, r)
	})
	if o.log == nil {
		return h
	}
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		lw := &loggedResponse{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(lw, r)
		line := fmt.Sprintf("%s %s %s %q %s %d %d %s\n", start.UTC().Format(time.RFC3339), r.RemoteAddr,
			r.Method, r.URL.RequestURI(), r.Proto, lw.status, lw.bytes, time.Since(start).Round(time.Microsecond))
		mu.Lock()
		io.WriteString(o.log, line)
		mu.Unlock()
	})
}

// etag returns a strong entity tag for the regular file at urlPath, made of
// its size and modification time, or "" when there is none. A client that
// resumes or fetches in ranges sends it back in If-Range, so that a file
// replaced between two requests is served whole rather than spliced (net/http
// checks If-Range and If-None-Match against it).
func etag(fsys fs.FS, urlPath string) string {
	name := strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if name == "" {
		return ""
	}
	st, err := fs.Stat(fsys, name)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano())
}

// countRanges returns the number of ranges in a Range header value,
// counting every comma-separated element.
func countRanges(v string) int { return strings.Count(v, ",") + 1 }

// loggedResponse remembers the status and body bytes of a response.
type loggedResponse struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *loggedResponse) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggedResponse) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *loggedResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rootFS is the served tree: an os.Root's file system, without the names
// starting with a dot unless dotfiles. Every error opening a name is "not
// found" to the client, but a permission error: a link out of the root is
// indistinguishable from a missing file.
type rootFS struct {
	fsys     fs.FS
	dotfiles bool
}

func (r rootFS) Open(name string) (fs.File, error) {
	if !r.dotfiles && hasDotElement(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := r.fsys.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrPermission) {
			err = &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return nil, err
	}
	if r.dotfiles {
		return f, nil
	}
	if d, ok := f.(fs.ReadDirFile); ok {
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return dotlessDir{d}, nil
		}
	}
	return f, nil
}

// hasDotElement reports whether a slash-separated name has an element
// starting with a dot (".", the root itself, excepted).
func hasDotElement(name string) bool {
	for _, e := range strings.Split(path.Clean("/"+name), "/") {
		if strings.HasPrefix(e, ".") {
			return true
		}
	}
	return false
}

// dotlessDir lists a directory without its dot entries.
type dotlessDir struct{ fs.ReadDirFile }

func (d dotlessDir) ReadDir(n int) ([]fs.DirEntry, error) {
	for {
		entries, err := d.ReadDirFile.ReadDir(n)
		kept := entries[:0]
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				kept = append(kept, e)
			}
		}
		// With n > 0, an empty batch would read as the end: read on.
		if len(kept) > 0 || err != nil || n <= 0 || len(entries) == 0 {
			return kept, err
		}
	}
}
