package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// supportFlags are the support-trace flags of get and probe: --keylog
// writes the session secrets in NSS key log format (Wireshark: Preferences,
// Protocols, TLS, (Pre)-Master-Secret log filename), --trace prints one
// line per TLS record on stderr.
//
// Use: register the flags, then after parsing call open, which sets
// Config.KeyLogWriter and Config.Trace; close the returned support when the
// command ends. Trace labels each line with the connection it belongs to.
type supportFlags struct {
	keylog string
	trace  bool
}

func (f *supportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.keylog, "keylog", "", "append the TLS session secrets to `FILE` (NSS key log format, for Wireshark); anyone with it can decrypt the traffic")
	fs.BoolVar(&f.trace, "trace", false, "print one line per TLS record on stderr: direction, epoch, content type, length (and which connection, where probe runs several)")
}

// support is what open made: the key log file and the trace printer.
type support struct {
	mu     sync.Mutex // serialises the key log and the trace lines
	keylog *os.File
	trace  io.Writer
}

// open applies the flags to cfg. The key log file is created with mode 0600
// and appended to.
func (f *supportFlags) open(e *env, cfg *tlsapp.Config) (*support, error) {
	s := &support{}
	if f.keylog != "" {
		k, err := os.OpenFile(f.keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--keylog: %w", err)
		}
		s.keylog = k
		cfg.KeyLogWriter = s
		fmt.Fprintf(e.stderr, "tlsapp: --keylog: writing TLS session secrets to %s; anyone who has this file can read the traffic\n", f.keylog)
	}
	if f.trace {
		s.trace = e.stderr
		cfg.Trace = s.Trace("")
	}
	return s, nil
}

// Write appends one key log line.
func (s *support) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keylog.Write(p)
}

// Trace returns a Config.Trace that prints the records of the connection
// named conn, or nil when --trace is off.
func (s *support) Trace(conn string) func(tlsapp.TraceRecord) {
	if s == nil || s.trace == nil {
		return nil
	}
	return func(r tlsapp.TraceRecord) { s.TraceLine(conn, r) }
}

// TraceLine prints one trace line: "trace [conn] sent plaintext handshake 283".
func (s *support) TraceLine(conn string, r tlsapp.TraceRecord) {
	if s == nil || s.trace == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if conn == "" {
		fmt.Fprintf(s.trace, "trace %s\n", r)
		return
	}
	fmt.Fprintf(s.trace, "trace [%s] %s\n", conn, r)
}

// tracing reports whether --trace is on.
func (s *support) tracing() bool { return s != nil && s.trace != nil }

// Close closes the key log file.
func (s *support) Close() error {
	if s == nil || s.keylog == nil {
		return nil
	}
	return s.keylog.Close()
}
