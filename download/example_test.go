package download_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// Download a firmware image in Range requests of 16 KiB through the tlsapp
// client, offering record_size_limit 2048, checking its SHA-256 and
// printing why each reconnection happened.
func ExampleFile() {
	image := bytes.Repeat([]byte("firmware"), 12500) // 100000 bytes
	want := sha256.Sum256(image)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(image))
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fw.bin")
	res, err := download.File(context.Background(), srv.URL+"/fw.bin", path, download.Options{
		Dialer:     &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: roots, RecordSizeLimit: 2048}},
		RangeChunk: 16 << 10,
		SHA256:     want[:],
		Resume:     true, // continue fw.bin.part if an earlier run left one
		Event: func(e download.Event) {
			fmt.Printf("%s at byte %d: %s\n", e.Kind, e.Offset, e.Reason)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bytes:", res.Size, "requests:", res.Requests, "validator:", res.Validator)
	fmt.Println("connections:", len(res.Connections), "offered record_size_limit:", res.Connections[0].OfferedRecordSizeLimit)
	// Output:
	// bytes: 100000 requests: 7 validator: ETag "v1"
	// connections: 1 offered record_size_limit: 2048
}
