package guard

import (
	"bytes"
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestEpochOpenFailureKeepsSequence: a record that does not open leaves the
// sequence number where it was, so that the next good record still opens;
// one that opens advances it, so that the same record does not open twice.
func TestEpochOpenFailureKeepsSequence(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	for _, suite := range []uint16{0x1301, 0x1302, 0x1303} {
		sealer, opener, err := newEpochPair(suite, secret)
		if err != nil {
			t.Fatal(err)
		}
		first := sealer.Seal(nil, recordlimit.TypeHandshake, []byte("first"))
		second := sealer.Seal(nil, recordlimit.TypeHandshake, []byte("second"))
		bad := bytes.Clone(first)
		bad[len(bad)-1] ^= 1
		if _, _, err := opener.Open(nil, bad); err == nil {
			t.Fatalf("suite %#04x: a tampered record opened", suite)
		}
		if _, _, err := opener.Open(nil, second); err == nil {
			t.Fatalf("suite %#04x: the second record opened at the first's sequence number", suite)
		}
		if got, typ, err := opener.Open(nil, first); err != nil || string(got) != "first" || typ != recordlimit.TypeHandshake {
			t.Fatalf("suite %#04x: after two failures the first record gives %q, %v, %v", suite, got, typ, err)
		}
		if _, _, err := opener.Open(nil, first); err == nil {
			t.Fatalf("suite %#04x: the first record opened twice", suite)
		}
		if got, _, err := opener.Open(nil, second); err != nil || string(got) != "second" {
			t.Fatalf("suite %#04x: the second record gives %q, %v", suite, got, err)
		}
	}
}

// TestServerSetSecretReplaces: a secret logged again replaces the old one,
// which is cleared, and one logged after the guard forgot its secrets is
// cleared and not kept.
func TestServerSetSecretReplaces(t *testing.T) {
	g := NewServerConn(nil, 0)
	old := bytes.Repeat([]byte{1}, 32)
	g.setSecret(labelServerHandshake, old)
	g.setSecret(labelServerHandshake, bytes.Repeat([]byte{2}, 32))
	if !bytes.Equal(old, make([]byte, 32)) {
		t.Errorf("the replaced secret was not cleared: %x", old)
	}
	other := bytes.Repeat([]byte{3}, 32)
	g.setSecret("CLIENT_TRAFFIC_SECRET_0", other)
	if !bytes.Equal(other, make([]byte, 32)) {
		t.Errorf("a secret the guard does not keep was not cleared: %x", other)
	}
	g.ForgetSecrets()
	if g.HoldsSecrets() {
		t.Fatal("secrets held after ForgetSecrets")
	}
	late := bytes.Repeat([]byte{4}, 32)
	g.setSecret(labelClientHandshake, late)
	if g.HoldsSecrets() || !bytes.Equal(late, make([]byte, 32)) {
		t.Errorf("a secret logged after ForgetSecrets was kept (held %v, %x)", g.HoldsSecrets(), late)
	}
}
