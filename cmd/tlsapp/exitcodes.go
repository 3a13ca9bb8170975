package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"

	"github.com/tlsapp/tlsapp/credstore"
	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/probe"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// The exit statuses. Where curl has a status for the same failure tlsapp
// exits with curl's number, so that a script written around curl branches
// the same way; what curl has no word for has a number of the project's
// own, from 110 on (curl's run to about 100; 126 and up are the shell's).
const (
	exitOK          = 0
	exitFailed      = 1   // anything else; the report says why
	exitUsage       = 2   // a mistake on the command line
	exitURL         = 3   // curl: URL malformed
	exitResolve     = 6   // curl: couldn't resolve host
	exitConnect     = 7   // curl: failed to connect to host
	exitPartial     = 18  // curl: partial file
	exitHTTP        = 22  // curl --fail: HTTP error
	exitWrite       = 23  // curl: write error
	exitTimeout     = 28  // curl: operation timed out
	exitTLS         = 35  // curl: TLS connect error
	exitRecv        = 56  // curl: failure receiving network data
	exitClientCert  = 58  // curl: problem with the local certificate
	exitCertificate = 60  // curl: peer certificate cannot be authenticated
	exitCAFile      = 77  // curl: problem reading the CA certificates
	exitRecordLimit = 110 // a record longer than the device holds, or than was agreed
	exitProbeFails  = 111 // probe: verdict "fails"
	exitProbeLuck   = 112 // probe: verdict "fits only by luck"
	exitSignal      = 128 // plus the signal's number: 130 for SIGINT, 143 for SIGTERM
)

// exitDoc is one row of the exit status table that 'tlsapp help
// exit-codes', the man page and the README show.
type exitDoc struct {
	code    int
	curl    bool // curl's number, for the same failure
	meaning string
}

var exitDocs = []exitDoc{
	{exitOK, false, "success: the download is complete and checked; probe: the device will work with the server"},
	{exitFailed, false, "any other failure; the report says why (a SHA-256 mismatch, a resource that changed with --no-restart, a server that answered nothing usable)"},
	{exitUsage, false, "a mistake on the command line, found before anything is dialled (curl's 2 is a failure to start)"},
	{exitURL, true, "the URL, or probe's HOST:PORT, cannot be used: malformed, or not https"},
	{exitResolve, true, "couldn't resolve the host name"},
	{exitConnect, true, "couldn't connect: the port refused, or the host or network is unreachable"},
	{exitPartial, true, "partial file: the connection dropped inside the body and no retry was left (--retry); the part is kept in FILE.part for --resume"},
	{exitHTTP, true, "the server answered an HTTP error (400 and up); get never saves an error page, so it always behaves as curl --fail"},
	{exitWrite, true, "write error: the output could not be created or written (read-only, permissions, disk full)"},
	{exitTimeout, true, "timed out: a dial or handshake (--connect-timeout), the whole run (--max-time), or an attempt that received nothing (--idle-timeout)"},
	{exitTLS, true, "the TLS handshake failed: an alert (the server refused the client certificate, no common version or cipher suite), or the server does not speak TLS"},
	{exitRecv, true, "the connection dropped before any of the body arrived, and no retry was left"},
	{exitClientCert, true, "the client certificate or key (--cert, --key) could not be loaded"},
	{exitCertificate, true, "the server's certificate could not be verified: unknown authority, wrong name, expired, pinned key missing"},
	{exitCAFile, true, "the CA certificates (--ca, --cacert) could not be read"},
	{exitRecordLimit, false, "record limit broken: a record longer than the device holds (--device-limit, --modem: EMSGSIZE) or than was agreed (record_overflow), or no Range chunk fits the device (--range-chunk auto)"},
	{exitProbeFails, false, "probe: the device will not work with this server (verdict \"fails\")"},
	{exitProbeLuck, false, "probe: the records fitted, but too little data came to tell (verdict \"fits only by luck\")"},
	{exitSignal, false, "128 + the signal that stopped it: 130 for SIGINT (Ctrl-C), 143 for SIGTERM; a partial download is kept"},
}

// printExitCodes prints the table of exit statuses.
func printExitCodes(w io.Writer) {
	fmt.Fprintf(w, "tlsapp exit statuses (curl's number where the failure is the same; the project's own from 110):\n\n")
	for _, d := range exitDocs {
		code := fmt.Sprint(d.code)
		if d.code == exitSignal {
			code = "128+N"
		}
		curl := "     "
		if d.curl {
			curl = "curl "
		}
		lines := wrap(d.meaning, 64)
		fmt.Fprintf(w, "  %-6s %s%s\n", code, curl, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "  %-6s      %s\n", "", l)
		}
	}
}

// exitRow is d as a row of the README's table of exit statuses.
func exitRow(d exitDoc) string {
	code := fmt.Sprint(d.code)
	if d.code == exitSignal {
		code = "128+N"
	}
	curl := ""
	if d.curl {
		curl = "curl"
	}
	return fmt.Sprintf("| %s | %s | %s |", code, curl, d.meaning)
}

// exitCodeOf returns the status for a failure of a connection or a
// download, from the error's type (errors.Is and errors.As; never its
// text). The signal that ended a run is run's to map, and 18 and 56 need
// to know how much of the body was held: see downloadExit.
func exitCodeOf(err error) int {
	var (
		se   *download.StatusError
		dns  *net.DNSError
		op   *net.OpError
		ne   net.Error
		pe   *fs.PathError
		le   *os.LinkError
		ae   *tlsapp.AlertError
		ccf  *clientCertError
		caf  *caFileError
		roe  *recordlimit.RecordOverflowError
		herr *recordlimit.RecordHeaderError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		return exitUsage
	case errors.As(err, &ccf):
		return exitClientCert
	case errors.As(err, &caf):
		return exitCAFile
	case errors.Is(err, syscall.EMSGSIZE), errors.Is(err, tlsapp.ErrDeviceLimit), errors.As(err, &roe),
		errors.Is(err, probe.ErrNoChunkFits),
		errors.As(err, &ae) && ae.Alert == recordlimit.AlertRecordOverflow:
		return exitRecordLimit
	case certificateError(err):
		return exitCertificate
	case errors.As(err, &dns):
		return exitResolve
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return exitConnect
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, download.ErrIdleTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return exitTimeout
	case errors.As(err, &op) && op.Op == "dial":
		return exitConnect
	case errors.As(err, &se) && se.Code >= 400:
		return exitHTTP
	case errors.As(err, &pe), errors.As(err, &le):
		// The network's errors are *net.OpErrors; a *PathError is a
		// file's: the output, its partial file or its sidecar.
		return exitWrite
	case errors.As(err, &ae), errors.As(err, &herr), errors.Is(err, recordlimit.ErrBadRecord),
		errors.Is(err, recordlimit.ErrNegotiation), errors.Is(err, recordlimit.ErrProtocol):
		return exitTLS
	case dropped(err):
		return exitRecv
	}
	return exitFailed
}

// dropped reports whether err is a connection that ended under a transfer:
// cut, reset, or closed without close_notify.
func dropped(err error) bool {
	for _, target := range []error{download.ErrTruncated, io.ErrUnexpectedEOF, io.EOF,
		syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// downloadExit is exitCodeOf for a download that held held bytes of the
// body when it failed: a dropped connection is a partial file (18) once
// part of the body arrived.
func downloadExit(err error, held int64) int {
	code := exitCodeOf(err)
	if code == exitRecv && held > 0 {
		return exitPartial
	}
	return code
}

// certificateError reports whether err is the server's certificate failing
// verification.
func certificateError(err error) bool {
	return errors.As(err, new(x509.UnknownAuthorityError)) || errors.As(err, new(x509.CertificateInvalidError)) ||
		errors.As(err, new(x509.HostnameError)) || errors.As(err, new(x509.SystemRootsError)) ||
		errors.As(err, new(x509.ConstraintViolationError)) || errors.As(err, new(x509.InsecureAlgorithmError)) ||
		errors.As(err, new(*credstore.NoAnchorError)) || errors.As(err, new(*credstore.ValidityError)) ||
		errors.Is(err, credstore.ErrPinMismatch)
}

// probeExit is the status of a probe whose connections failed with f, or
// whose verdict is v.
func probeExit(f *probe.Failure, v probe.Verdict) int {
	if f != nil {
		switch f.Kind {
		case probe.FailExpired, probe.FailUnknownAuthority, probe.FailNameMismatch, probe.FailVerification:
			return exitCertificate
		case probe.FailRecordOverflow:
			return exitRecordLimit
		case probe.FailNegotiation, probe.FailAlert:
			return exitTLS
		case probe.FailTimeout:
			return exitTimeout
		case probe.FailConnect:
			return exitConnect
		}
		return exitFailed
	}
	switch {
	case v.Works:
		return exitOK
	case v.Kind == probe.Luck:
		return exitProbeLuck
	}
	return exitProbeFails
}

// clientCertError is a client certificate or key (--cert, --key) that
// could not be loaded.
type clientCertError struct{ err error }

func (e *clientCertError) Error() string { return "loading the client certificate: " + e.err.Error() }
func (e *clientCertError) Unwrap() error { return e.err }

// caFileError is a CA file (--ca, --cacert) that could not be read.
type caFileError struct{ err error }

func (e *caFileError) Error() string { return e.err.Error() }
func (e *caFileError) Unwrap() error { return e.err }
