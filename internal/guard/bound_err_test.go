package guard_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestErrReportsFirstReadError: Err is nil while nothing failed, and after
// a refused record it reports the error Read returned, which a second
// refusal does not replace.
func TestErrReportsFirstReadError(t *testing.T) {
	p := &pipe{in: append(rec(99, []byte{1, 2, 3}), rec(98, []byte{4})...)}
	g := guard.NewConn(p, recordlimit.Offer{})
	if err := g.Err(); err != nil {
		t.Fatalf("Err before any read: %v", err)
	}
	_, err := drain(t, g, 4096)
	if !errors.Is(err, recordlimit.ErrBadRecord) {
		t.Fatalf("Read: %v, want ErrBadRecord", err)
	}
	if got := g.Err(); got != err {
		t.Fatalf("Err: %v, want the error Read returned (%v)", got, err)
	}
	if _, err2 := g.Read(make([]byte, 10)); err2 == nil {
		t.Fatal("a Read after the refusal succeeded")
	}
	if got := g.Err(); got != err {
		t.Fatalf("Err after a second Read: %v, want the first error (%v)", got, err)
	}
}

// TestClientCutAfterWholeRecord: the transport ends inside a record that
// follows a whole one in the same buffer; the stack gets the whole record,
// then exactly the bytes of the cut one that came, then
// io.ErrUnexpectedEOF, as from the transport itself.
func TestClientCutAfterWholeRecord(t *testing.T) {
	hello := rec(ctHandshake, serverHello(gcm12, nil))
	next := rec(ctHandshake, sized(hsCertificate, 100))
	for _, part := range []int{1, 5, 6, 40, len(next) - 1} {
		p := &pipe{in: append(append([]byte(nil), hello...), next[:part]...)}
		g := guard.NewConn(p, recordlimit.Offer{})
		got, err := drain(t, g, 4096)
		want := append(append([]byte(nil), hello...), next[:part]...)
		if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(got, want) {
			t.Fatalf("cut after %d bytes of the second record: %d bytes, %v; want the %d that came, then io.ErrUnexpectedEOF", part, len(got), err, len(want))
		}
	}
}
