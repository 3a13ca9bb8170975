package wiretrace

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// AppendText appends e as lines for people, each starting with prefix and
// ending with a newline: one line per event (the time since the dial in
// milliseconds, then what crossed), and for a record, one more line per
// decoded handshake message and per extension.
//
//	0.412 ms  sent      plaintext    handshake            283 B  ClientHello 279 B
//	           ClientHello: legacy_version TLS 1.2, session_id 32 B, compression_methods null
//	             cipher_suites (9): TLS_AES_128_GCM_SHA256, ...
//	             ext max_fragment_length (1 B): code 2 = 2^10 = 1024 B
func (e Event) AppendText(b []byte, prefix string) []byte {
	b = append(b, prefix...)
	b = fmt.Appendf(b, "%9.3f ms  ", float64(e.At.Microseconds())/1000)
	switch e.Kind {
	case KindConnect:
		if e.Err != "" {
			b = fmt.Appendf(b, "connect to %s failed: %s", e.Remote, e.Err)
		} else {
			b = fmt.Appendf(b, "connected to %s from %s", e.Remote, e.Local)
		}
	case KindClose:
		b = append(b, "closed"...)
		if e.Note != "" {
			b = append(b, ": "...)
			b = append(b, e.Note...)
		}
	case KindRecord:
		r := e.Record
		if r == nil {
			break
		}
		b = fmt.Appendf(b, "%-8s  %-11s  %-18s %5d B", r.Dir, r.Epoch, r.Type, r.Len)
		if s := r.summary(); s != "" {
			b = append(b, "  "...)
			b = append(b, s...)
		}
		if e.Note != "" {
			b = append(b, "  ("...)
			b = append(b, e.Note...)
			b = append(b, ')')
		}
		b = append(b, '\n')
		return r.appendDetails(b, prefix+strings.Repeat(" ", 14))
	}
	return append(b, '\n')
}

// summary says in a few words what the record carries.
func (r *Record) summary() string {
	var parts []string
	for _, m := range r.Messages {
		switch {
		case m.Len < 0:
			parts = append(parts, fmt.Sprintf("%s (first %d B of its header)", m.Name, m.Here))
		case m.Part != "":
			parts = append(parts, fmt.Sprintf("%s %d B (%s part: bytes %d-%d of %d)", m.Name, m.Len, m.Part, m.Offset, m.Offset+m.Here-1, 4+m.Len))
		default:
			parts = append(parts, fmt.Sprintf("%s %d B", m.Name, m.Len))
		}
	}
	if r.Alert != nil {
		parts = append(parts, fmt.Sprintf("alert %s %s", r.Alert.Level, r.Alert.Description))
	}
	if r.Type == "change_cipher_spec" && r.Inner == "" {
		parts = append(parts, "ChangeCipherSpec")
	}
	if r.Data > 0 && r.Inner == "" {
		parts = append(parts, fmt.Sprintf("application data %d B", r.Data))
	}
	s := strings.Join(parts, ", ")
	if r.Inner != "" {
		// A decrypted TLS 1.3 record: its true type first.
		s = strings.TrimSuffix(fmt.Sprintf("[%s %d B] %s", r.Inner, r.Plaintext, s), " ")
	}
	return s
}

func (r *Record) appendDetails(b []byte, prefix string) []byte {
	for _, m := range r.Messages {
		if len(m.Fields) == 0 && len(m.Extensions) == 0 && m.Note == "" {
			continue
		}
		var inline []string
		for _, f := range m.Fields {
			if len(f.List) == 0 {
				inline = append(inline, f.Name+" "+f.Value)
			}
		}
		if m.Note != "" {
			inline = append(inline, m.Note)
		}
		b = append(b, prefix...)
		b = append(b, m.Name...)
		b = append(b, ':')
		if len(inline) > 0 {
			b = append(b, ' ')
			b = append(b, strings.Join(inline, ", ")...)
		}
		b = append(b, '\n')
		for _, f := range m.Fields {
			if len(f.List) > 0 {
				b = fmt.Appendf(b, "%s  %s (%d): %s\n", prefix, f.Name, len(f.List), strings.Join(f.List, ", "))
			}
		}
		for _, x := range m.Extensions {
			b = fmt.Appendf(b, "%s  ext %s (%d B)", prefix, x.Name, x.Len)
			if x.Value != "" {
				b = append(b, ": "...)
				b = append(b, x.Value...)
			}
			b = append(b, '\n')
		}
	}
	return b
}

// AppendJSON appends e as one line of JSON, with conn (when not empty)
// naming the connection.
func (e Event) AppendJSON(b []byte, conn string) []byte {
	e.MS = float64(e.At.Microseconds()) / 1000
	j, err := json.Marshal(struct {
		Conn string `json:"conn,omitempty"`
		Event
	}{conn, e})
	if err != nil { // cannot happen: every field is a plain value
		return append(b, `{"error":`+strconv.Quote(err.Error())+"}\n"...)
	}
	return append(append(b, j...), '\n')
}
