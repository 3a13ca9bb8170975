// Command shim is the BoGo shim of this project: the program BoringSSL's
// TLS test runner starts for each of its tests, speaking TLS through
// tlsapp's public API only. As a client it uses tlsapp.Client and
// tlsapp.Config (utls under the client record guard); with -server it
// uses tlsapp.Server with a crypto/tls Config and tlsapp.ServerOptions
// (crypto/tls under the server guard).
//
// The runner passes -port and -shim-id (and -ipv6 when it listens on ::1).
// The shim connects to it, on 127.0.0.1 or ::1, sends the shim id as eight
// bytes little-endian, runs the handshake, echoes every byte of
// application data back XORed with 0xff until the runner closes, checks
// what the test's -expect- flags ask, and does it again for each of
// -resume-count resumptions. It exits 0 when all went as asked, 1 with the
// error on stderr when not, and 89 for a flag it does not know or cannot
// honour through tlsapp (the runner then counts the test as
// unimplemented). See package bogo for the harness that runs it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Exit statuses the runner knows.
const (
	exitOK            = 0
	exitFailed        = 1
	exitUnimplemented = 89
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if slices.Contains(args, "-is-handshaker-supported") {
		// The runner asks before it starts, with any extra flags: the
		// split-handshake tests need a handshaker this shim does not have.
		fmt.Fprintln(stdout, "No")
		return exitOK
	}
	server, settings := scanSide(args)
	o, err := parseFlags(args)
	if err == nil && o.census {
		err = unimplemented("census")
	}
	if err == nil {
		err = o.check()
	}
	if err == nil {
		err = o.run()
	}
	var unimpl *unimplementedError
	switch {
	case errors.As(err, &unimpl):
		record(settings, server, unimpl.reason)
		fmt.Fprintln(stderr, err)
		return exitUnimplemented
	case err != nil:
		record(settings, server, "")
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	record(settings, server, "")
	return exitOK
}

// record tells the harness which side the test was for and, when the shim
// refused it, why: it writes the JSON of a shimRecord to prefix+"shim",
// prefix being the -write-settings value the runner passes with
// -transcript-dir (its directory and the test's name). Nothing is written
// without one.
func record(prefix string, server bool, unimplemented string) {
	if prefix == "" {
		return
	}
	b, _ := json.Marshal(shimRecord{Server: server, Unimplemented: unimplemented})
	os.WriteFile(prefix+"shim", b, 0o644)
}

// shimRecord is what record writes; package bogo's harness reads it.
type shimRecord struct {
	Server        bool   `json:"server"`
	Unimplemented string `json:"unimplemented,omitempty"`
}
