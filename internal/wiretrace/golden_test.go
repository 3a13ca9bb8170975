package wiretrace

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsapp/tlsapp/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden traces under testdata/golden")

// TestGoldenTraces replays each recorded handshake (TLS 1.2 and 1.3,
// max_fragment_length and record_size_limit, a compressed chain, a fatal
// alert) and checks the text and JSON-lines traces against golden files
// (-update rewrites them). Beyond the files it asserts what must hold of
// any trace: every handshake message and extension is named, the JSON
// lines parse back into the events, the record lengths add up to the
// bytes of the capture, and the protected handshake is decrypted.
func TestGoldenTraces(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ops := readCapture(t, filepath.Join("testdata", "captures", sc.name+".txt"))
			var events []Event
			replay(ops, func(e Event) { events = append(events, e) })
			var text, jsonl []byte
			for _, e := range events {
				text = e.AppendText(text, "")
				jsonl = e.AppendJSON(jsonl, sc.name)
			}
			golden.Check(t, filepath.Join("testdata", "golden", sc.name+".txt"), text, *update)
			golden.Check(t, filepath.Join("testdata", "golden", sc.name+".jsonl"), jsonl, *update)

			// The wire's bytes, each direction: all in records.
			wire := map[string]int{}
			for _, o := range ops {
				switch o.kind {
				case '>':
					wire["sent"] += len(o.data)
				case '<':
					wire["received"] += len(o.data)
				}
			}
			traced := map[string]int{}
			names := map[string]bool{}
			for _, e := range events {
				if e.Record == nil {
					continue
				}
				traced[e.Dir] += 5 + e.Len
				for _, m := range e.Messages {
					names[e.Dir+" "+m.Name] = true
					if strings.Contains(m.Name, "(") {
						t.Errorf("unnamed handshake message %q", m.Name)
					}
					if m.Note != "" {
						t.Errorf("%s: %s", m.Name, m.Note)
					}
					for _, x := range m.Extensions {
						if strings.Contains(x.Name, "(") && x.Name != "GREASE" {
							t.Errorf("%s: unnamed extension %q", m.Name, x.Name)
						}
						if x.Value == "malformed" {
							t.Errorf("%s: extension %s malformed", m.Name, x.Name)
						}
					}
				}
				if e.Note != "" && !strings.HasPrefix(sc.name, "tls12-mfl512-alert") {
					t.Errorf("record note: %s", e.Note)
				}
			}
			for dir, n := range wire {
				if traced[dir] != n {
					t.Errorf("%s: %d B on the wire, %d B in traced records", dir, n, traced[dir])
				}
			}
			// Every JSON line parses and says what the event said.
			lines := strings.Split(strings.TrimSuffix(string(jsonl), "\n"), "\n")
			if len(lines) != len(events) {
				t.Fatalf("%d JSON lines for %d events", len(lines), len(events))
			}
			for i, l := range lines {
				var back struct {
					Conn string `json:"conn"`
					Event
				}
				if err := json.Unmarshal([]byte(l), &back); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				if back.Conn != sc.name || back.Kind != events[i].Kind || (events[i].Record != nil) != (back.Record != nil) ||
					back.Record != nil && (back.Len != events[i].Len || len(back.Messages) != len(events[i].Messages)) {
					t.Errorf("line %d reads back as %+v", i+1, back)
				}
			}
			for _, want := range wantMessages[sc.name] {
				if !names[want] {
					t.Errorf("no %s in the trace (have %v)", want, names)
				}
			}
		})
	}
}

// wantMessages are messages each trace must name, the encrypted ones
// included (decrypted with the logged keys).
var wantMessages = map[string][]string{
	"tls12-mfl512-openssl": {"sent ClientHello", "received ServerHello", "received Certificate", "received ServerKeyExchange",
		"received ServerHelloDone", "sent ClientKeyExchange", "sent Finished", "received Finished"},
	"tls13-mfl1024-openssl": {"sent ClientHello", "received ServerHello", "received EncryptedExtensions", "received Certificate",
		"received CertificateVerify", "received Finished", "sent Finished", "received NewSessionTicket"},
	"tls13-rsl2048-zstd-scripted": {"received EncryptedExtensions", "received CompressedCertificate", "received Finished", "sent Finished"},
	"tls12-rsl1024-scripted":      {"received ServerHello", "received Certificate", "sent Finished", "received Finished"},
	"tls12-mfl512-alert-scripted": {"received ServerHello", "received Certificate"},
}
