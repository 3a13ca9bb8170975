package credstore

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/trust"
)

// TestNoAnchorErrorEachReason checks what NoAnchorError.Tried says for each
// anchor: the anchor's own x509 reason when the chain does not verify to it
// (not a pin mismatch, which it never got to), and ErrPinMismatch when the
// chain verifies to it but misses the tag's pins.
func TestNoAnchorErrorEachReason(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	digicert := roots["DigiCert Global Root G2"]
	chain := chainOf(newLeaf(t, newCA(t, "Intermediate", digicert), time.Now().Add(time.Hour)))
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPin := SPKIHash(&x509.Certificate{RawSubjectPublicKeyInfo: mustPKIX(t, &other.PublicKey)})

	base, err := NewVerifier(ctx, s, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = base.WithPins(3, otherPin).verifyNow("fota.example", chain)
	var nae *NoAnchorError
	if !errors.As(err, &nae) || len(nae.Tried) != 3 {
		t.Fatalf("err = %v, want a NoAnchorError with three anchors tried", err)
	}
	for _, tr := range nae.Tried {
		var ua x509.UnknownAuthorityError
		switch tr.Anchor.Tag {
		case 1, 2:
			if errors.Is(tr.Err, ErrPinMismatch) || !errors.As(tr.Err, &ua) {
				t.Errorf("tag %d (not the chain's root): %v, want x509.UnknownAuthorityError", tr.Anchor.Tag, tr.Err)
			}
		case 3:
			if !errors.Is(tr.Err, ErrPinMismatch) {
				t.Errorf("tag 3 (the root, pinned to another key): %v, want ErrPinMismatch", tr.Err)
			}
		default:
			t.Errorf("tried tag %d, not in the verifier", tr.Anchor.Tag)
		}
	}
}

// TestEncryptedShortValues stores values in the bound format cut at every
// length up to and past the smallest valid one (header, nonce and tag, an
// empty plaintext): each is refused with ErrDecrypt, none panics, and the
// smallest valid value opens.
func TestEncryptedShortValues(t *testing.T) {
	ctx := context.Background()
	key := &[32]byte{3}
	inner := NewMemory()
	s := Encrypted(inner, key)
	r := Ref{1, CACert}
	if err := s.Put(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	box, _ := inner.Get(ctx, r)
	if len(box) != sealHdrLen+sealNonce+16 {
		t.Fatalf("sealed empty value is %d bytes, want %d", len(box), sealHdrLen+sealNonce+16)
	}
	if got, err := s.Get(ctx, r); err != nil || len(got) != 0 {
		t.Fatalf("Get of the empty value: %q, %v", got, err)
	}
	for n := len(sealMagic); n < len(box); n++ {
		inner.Put(ctx, r, box[:n])
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Get of a %d-byte value with the magic: panic %v", n, p)
				}
			}()
			if got, err := s.Get(ctx, r); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Get of a %d-byte value with the magic: %q, %v; want ErrDecrypt", n, got, err)
			}
		}()
	}
}

// TestEncryptedLegacyShortValues does the same for the old format: the
// smallest old value (nonce and tag, an empty plaintext) is recognised as
// ErrLegacyFormat and migrated; every shorter one is ErrDecrypt, no panic.
func TestEncryptedLegacyShortValues(t *testing.T) {
	ctx := context.Background()
	key := &[32]byte{4}
	inner := NewMemory()
	s := Encrypted(inner, key)
	r := Ref{1, SessionState}
	box := sealLegacy(t, nil, key)
	if len(box) != 40 {
		t.Fatalf("old-format empty value is %d bytes, want 40", len(box))
	}
	for n := 0; n < len(box); n++ {
		inner.Put(ctx, r, box[:n])
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Get of a %d-byte value: panic %v", n, p)
				}
			}()
			if got, err := s.Get(ctx, r); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Get of a %d-byte value: %q, %v; want ErrDecrypt", n, got, err)
			}
		}()
	}
	inner.Put(ctx, r, box)
	if _, err := s.Get(ctx, r); !errors.Is(err, ErrLegacyFormat) {
		t.Errorf("Get of the 40-byte old-format empty value: %v, want ErrLegacyFormat", err)
	}
	if n, err := MigrateEncrypted(ctx, inner, key); n != 1 || err != nil {
		t.Errorf("MigrateEncrypted: %d, %v; want 1, nil", n, err)
	}
	if got, err := s.Get(ctx, r); err != nil || len(got) != 0 {
		t.Errorf("after migration: %q, %v; want the empty value", got, err)
	}
}

// TestReadLimitedSize checks readLimited at its limit and one past it: a
// file longer than the limit is refused from its size, before it is read,
// with the size in the error; a non-default limit is named in the error.
func TestReadLimitedSize(t *testing.T) {
	dir := t.TempDir()
	for _, limit := range []int64{10, MaxSize} {
		for _, n := range []int64{limit, limit + 1, 8 << 30} {
			p := filepath.Join(dir, fmt.Sprintf("f%d-%d", limit, n))
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, n); err != nil {
				t.Fatal(err)
			}
			b, err := readRegular(p, limit)
			if n <= limit {
				if err != nil || int64(len(b)) != n {
					t.Errorf("limit %d, %d bytes: %d bytes read, %v", limit, n, len(b), err)
				}
				continue
			}
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf(": %d bytes", n)) || strings.Contains(err.Error(), "grew") {
				t.Errorf("limit %d, %d bytes: %v; want ErrTooLarge stating the size", limit, n, err)
			}
			named := strings.Contains(err.Error(), fmt.Sprintf("(%d for a stored file)", limit))
			if named != (limit != MaxSize) {
				t.Errorf("limit %d: %v; the limit should be named only when it is not MaxSize", limit, err)
			}
		}
	}
	if err := tooLarge(MaxSize); err != ErrTooLarge {
		t.Errorf("tooLarge(MaxSize) = %v, want ErrTooLarge itself", err)
	}
}

// TestKindValidBounds checks Kind.Valid and String on both sides of the
// last kind: past it a kind is invalid and named by number, without a panic.
func TestKindValidBounds(t *testing.T) {
	last := Kinds()[len(Kinds())-1]
	for k := Kind(0); k <= last+2; k++ {
		want := k >= CACert && k <= last
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Kind(%d): panic %v", k, p)
				}
			}()
			if k.Valid() != want {
				t.Errorf("Kind(%d).Valid() = %v, want %v", k, k.Valid(), want)
			}
			if !want && k.String() != fmt.Sprintf("kind(%d)", k) {
				t.Errorf("Kind(%d).String() = %q", k, k.String())
			}
		}()
	}
}

// TestImportAtMaxSize imports a CA certificate and a private key padded with
// blank lines to exactly MaxSize bytes, which are accepted, and to one byte
// more, which is refused with ErrTooLarge.
func TestImportAtMaxSize(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t, "Root", nil)
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, in := range []struct {
		kind Kind
		pem  []byte
	}{{CACert, ca.pem}, {PrivateKey, keyPEM}} {
		for _, n := range []int{MaxSize, MaxSize + 1} {
			data := append(bytes.Clone(in.pem), bytes.Repeat([]byte("\n"), n-len(in.pem))...)
			err := Import(ctx, NewMemory(), 1, in.kind, "padded.pem", data)
			if n <= MaxSize && err != nil {
				t.Errorf("%v of %d bytes: %v", in.kind, n, err)
			}
			if n > MaxSize && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%v of %d bytes: %v, want ErrTooLarge", in.kind, n, err)
			}
		}
	}
}

// TestImportMalformedBlockNames checks that an error about a PEM block
// names it as the user counts (the second block is block 2) and quotes its
// type in full up to 40 characters, cut with "..." past that.
func TestImportMalformedBlockNames(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t, "Root", nil)
	bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	err := Import(ctx, NewMemory(), 1, CACert, "bundle.pem", append(bytes.Clone(ca.pem), bad...))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "PEM block 2:") {
		t.Errorf("bundle with a bad second certificate: %v, want ErrMalformed naming PEM block 2", err)
	}
	for _, n := range []int{40, 41} {
		typ := strings.Repeat("X", n)
		cut := "-----BEGIN " + typ + "-----\nAAAA\n" // no END line
		err := Import(ctx, NewMemory(), 1, CACert, "cut.pem", []byte(cut))
		want := fmt.Sprintf("%q", typ)
		if n > 40 {
			want = fmt.Sprintf("%q", typ[:40]+"...")
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("block of a %d-character type cut short: %v, want the type quoted as %s", n, err, want)
		}
	}
}

// TestSessionCacheKeys drives a SessionCache directly, with a write
// interval longer than the test: the first ticket is stored at once (a
// second cache over the store sees it), tickets for several servers within
// the interval are all kept until Flush, and a forgotten server leaves no
// entry behind, neither its name in the store nor a slot that would evict
// another server's session.
func TestSessionCacheKeys(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Store: NewMemory()}
	cache := NewSessionCache(store, 1)
	cache.interval = time.Hour
	if err := cache.Flush(ctx); err != nil {
		t.Fatalf("Flush of a new cache: %v", err)
	}
	ticket := func(i int) trust.Session {
		return trust.Session{Ticket: []byte(fmt.Sprintf("ticket %d", i)), State: []byte("state")}
	}
	server := func(i int) string { return fmt.Sprintf("server%02d.example", i) }

	cache.Put(server(0), ticket(0))
	if puts, _ := store.counts(); puts != 1 {
		t.Fatalf("first ticket after a quiet interval: %d writes, want 1", puts)
	}
	if _, ok := NewSessionCache(store, 1).Get(server(0)); !ok {
		t.Fatal("the first ticket is not in the store before Flush")
	}
	for i := 1; i < maxSessions; i++ {
		cache.Put(server(i), ticket(i))
	}
	if err := cache.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := NewSessionCache(store, 1)
	for i := range maxSessions {
		if s, ok := fresh.Get(server(i)); !ok || !bytes.Equal(s.Ticket, ticket(i).Ticket) {
			t.Errorf("after Flush, %s: %q, %v; want its ticket", server(i), s.Ticket, ok)
		}
	}

	// Forget server 0, then a new server: the cache holds maxSessions
	// again, and none of the others is evicted.
	cache.Put(server(0), trust.Session{})
	cache.Put(server(maxSessions), ticket(maxSessions))
	if err := cache.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fresh = NewSessionCache(store, 1)
	if _, ok := fresh.Get(server(0)); ok {
		t.Errorf("%s was forgotten but resumes", server(0))
	}
	for i := 1; i <= maxSessions; i++ {
		if _, ok := fresh.Get(server(i)); !ok {
			t.Errorf("%s was evicted (or lost) when %s was forgotten and %s added", server(i), server(0), server(maxSessions))
		}
	}
	b, err := store.Get(ctx, Ref{1, SessionState})
	if err != nil || bytes.Contains(b, []byte(server(0))) {
		t.Errorf("the stored sessions still name the forgotten %s (%v)", server(0), err)
	}
}

// TestSessionCacheQuietInterval checks the write interval on both sides: a
// ticket arriving a minute before the interval since the last write ends
// waits for it, one arriving a minute after it is written at once.
func TestSessionCacheQuietInterval(t *testing.T) {
	for _, tt := range []struct {
		since time.Duration
		puts  int
	}{{time.Hour - time.Minute, 0}, {time.Hour + time.Minute, 1}} {
		store := &countingStore{Store: NewMemory()}
		cache := NewSessionCache(store, 1)
		cache.interval = time.Hour
		cache.lastWrite = time.Now().Add(-tt.since)
		cache.Put("server.example", trust.Session{Ticket: []byte("ticket")})
		if puts, _ := store.counts(); puts != tt.puts {
			t.Errorf("a ticket %v after the last write: %d writes, want %d", tt.since, puts, tt.puts)
		}
		if err := cache.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if puts, _ := store.counts(); puts != 1 {
			t.Errorf("a ticket %v after the last write, after Flush: %d writes, want 1", tt.since, puts)
		}
	}
}
