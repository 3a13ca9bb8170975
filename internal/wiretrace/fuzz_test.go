package wiretrace

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzTracer feeds a Tracer any interleaving of sent bytes, received bytes
// and key log lines (per operation: a kind byte, 0 sent, 1 received, 2 key
// log; a 2-byte length; the bytes). The seeds under testdata/fuzz are the
// recorded handshakes (TestCapture writes them) and a few non-TLS streams.
// Besides not panicking, it checks that the memory held stays within the
// package's bounds after every operation, that the records reported never
// add up to more bytes than were fed, that every event marshals to JSON
// and back, and that the text has no control characters but newlines
// (names and values from the wire are escaped).
func FuzzTracer(f *testing.F) {
	f.Add([]byte{0, 0, 5, 'H', 'T', 'T', 'P', '/'})
	f.Add([]byte{1, 0, 5, 22, 3, 3, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		var events []Event
		var clock time.Duration
		keys := NewKeys()
		tr := newTracer(keys, func(e Event) { events = append(events, e) }, func() time.Time { return time.Unix(0, 0).Add(clock) })
		fed := map[string]int{}
		for len(in) >= 3 {
			kind, n := in[0]%3, int(in[1])<<8|int(in[2])
			in = in[3:]
			n = min(n, len(in))
			data := in[:n]
			in = in[n:]
			clock += time.Millisecond
			switch kind {
			case 0:
				tr.Feed(Sent, data)
				fed["sent"] += len(data)
			case 1:
				tr.Feed(Received, data)
				fed["received"] += len(data)
			case 2:
				keys.Write(data)
			}
			checkBounds(t, tr)
		}
		tr.Close()
		got := map[string]int{}
		for _, e := range events {
			if e.Record != nil {
				got[e.Dir] += 5 + e.Len
			}
			j := e.AppendJSON(nil, "c")
			var back map[string]any
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatalf("JSON %q: %v", j, err)
			}
			text := string(e.AppendText(nil, ""))
			if strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }) {
				t.Fatalf("control character in %q", text)
			}
		}
		for dir, n := range got {
			if n > fed[dir]+5 { // a non-TLS header is reported with length 0
				t.Fatalf("%s: records of %d B reported from %d B fed", dir, n, fed[dir])
			}
		}
	})
}

func checkBounds(t *testing.T, tr *Tracer) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, d := range tr.dirs {
		if len(d.body) > maxRecordBody || len(d.asm.body) > maxMessage || d.pendingBytes > maxPending {
			t.Fatalf("%s holds a %d B record, a %d B message, %d B pending", d.name, len(d.body), len(d.asm.body), d.pendingBytes)
		}
	}
	if len(tr.keys.entries) > maxConnections {
		t.Fatalf("keys for %d connections", len(tr.keys.entries))
	}
}
