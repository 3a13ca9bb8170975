// Package fuzz holds the fuzz targets that cross package boundaries: the
// client guard of package internal/guard fed a real, captured server
// handshake followed by arbitrary bytes, over transports that deliver any
// number of bytes per read. The targets beside each parser live in
// internal/wire/fuzz_test.go and internal/guard/fuzz_test.go.
//
// The seed corpora under testdata/fuzz are real handshakes captured from Go's
// crypto/tls server, the tests' scripted TLS 1.3 server and, when installed,
// OpenSSL's s_server. Regenerate them with
//
//	go test ./fuzz -run TestGenerateSeeds -update
//
// and run every target with scripts/fuzz.sh.
package fuzz
