package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/tlsapp/tlsapp/internal/wiretrace"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// supportFlags are the support-trace flags of get and probe: --keylog
// writes the session secrets in NSS key log format (Wireshark: Preferences,
// Protocols, TLS, (Pre)-Master-Secret log filename), --trace prints every
// TLS record on stderr, decoded from the bytes on the wire (package
// wiretrace), as text or, with --trace-format json, as JSON lines.
//
// Use: register the flags, then after parsing call open, which sets
// Config.KeyLogWriter; dial each connection through dialer(label) so that
// its records are traced under that label; close the returned support when
// the command ends.
type supportFlags struct {
	keylog string
	trace  bool
	format string
}

func (f *supportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.keylog, "keylog", "", "append the TLS session secrets to `FILE` (NSS key log format, for Wireshark); anyone with it can decrypt the traffic")
	fs.BoolVar(&f.trace, "trace", false, "print every TLS record on stderr, decoded from the wire: time since the dial, direction, epoch, type, length, handshake messages, extensions and alerts by name (each line names its connection)")
	fs.StringVar(&f.format, "trace-format", "text", "`FORMAT` of --trace: text, or json (one JSON object per line)")
}

// support is what open made: the key log file and the trace printer.
type support struct {
	mu     sync.Mutex // serialises the key log and the trace lines
	keylog *os.File
	trace  io.Writer
	json   bool
	keys   *wiretrace.Keys // the secrets the trace decrypts with
	buf    []byte
}

// open applies the flags to cfg. The key log file is created with mode 0600
// and appended to.
func (f *supportFlags) open(e *env, cfg *tlsapp.Config) (*support, error) {
	s := &support{}
	switch f.format {
	case "text":
	case "json":
		s.json = true
	default:
		return nil, usagef("--trace-format must be text or json")
	}
	if f.format != "text" && !f.trace {
		return nil, usagef("--trace-format needs --trace")
	}
	if f.keylog != "" {
		k, err := os.OpenFile(f.keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--keylog: %w", err)
		}
		s.keylog = k
		fmt.Fprintf(e.stderr, "tlsapp: --keylog: writing TLS session secrets to %s; anyone who has this file can read the traffic\n", f.keylog)
	}
	if f.trace {
		s.trace = e.stderr
		// The trace decrypts what it can with the secrets, held in memory
		// for the connection's life only.
		s.keys = wiretrace.NewKeys()
	}
	if s.keylog != nil || s.keys != nil {
		cfg.KeyLogWriter = s
	}
	return s, nil
}

// Write takes one key log line: to the file, and to the trace's keys.
func (s *support) Write(p []byte) (int, error) {
	if s.keys != nil {
		s.keys.Write(p)
	}
	if s.keylog == nil {
		return len(p), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keylog.Write(p)
}

// dialer returns a tlsapp.Dialer.DialTransport that traces the connection
// under label, or nil when --trace is off.
func (s *support) dialer(label string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !s.tracing() {
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return wiretrace.Dial(ctx, nil, network, addr, s.keys, s.printer(label))
	}
}

// numberedDialer is dialer for a command that makes connections one after
// the other: each is labelled "conn N".
func (s *support) numberedDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !s.tracing() {
		return nil
	}
	var mu sync.Mutex
	n := 0
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		n++
		label := fmt.Sprintf("conn %d", n)
		mu.Unlock()
		return s.dialer(label)(ctx, network, addr)
	}
}

// labelledDialer is dialer with the label given at each dial (probe's
// Options.DialTransport).
func (s *support) labelledDialer() func(ctx context.Context, label, network, addr string) (net.Conn, error) {
	if !s.tracing() {
		return nil
	}
	return func(ctx context.Context, label, network, addr string) (net.Conn, error) {
		return s.dialer(label)(ctx, network, addr)
	}
}

// printer prints the events of the connection named label.
func (s *support) printer(label string) func(wiretrace.Event) {
	prefix := "trace [" + label + "] "
	return func(e wiretrace.Event) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.json {
			s.buf = e.AppendJSON(s.buf[:0], label)
		} else {
			s.buf = e.AppendText(s.buf[:0], prefix)
		}
		s.trace.Write(s.buf)
	}
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
