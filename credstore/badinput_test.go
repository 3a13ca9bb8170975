package credstore

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testpki"
)

// The tests in this file feed the store bad input — malformed PEM and DER,
// keys that belong to other certificates, certificates outside their
// validity period, wrong server names, missing tags and directories that
// cannot be written — and check that each gets a typed error naming what is
// wrong and that the store is byte for byte what it was.

// badIssue issues a certificate for these tests: CA certificates can sign;
// the others name fota.example and are for servers and clients.
func badIssue(t *testing.T, cn string, ca bool, notBefore, notAfter time.Time, issuer *testpki.Cert) *testpki.Cert {
	t.Helper()
	if ca {
		return testpki.Issue(t, cn, ca, notBefore, notAfter, issuer)
	}
	return testpki.Issue(t, cn, ca, notBefore, notAfter, issuer, "fota.example")
}

// badKit is the material of these tests: a root, a client pair it issued
// (stored under tag 2), another pair, and certificates outside their
// validity period.
type badKit struct {
	root, client, other           *testpki.Cert
	expiredCA, futureCA           *testpki.Cert
	expiredLeaf, futureLeaf, leaf *testpki.Cert // server certificates issued by root
	underExpired, underFuture     *testpki.Cert // valid leaves under expiredCA and futureCA
}

func newBadKit(t *testing.T) *badKit {
	now := time.Now()
	k := &badKit{}
	k.root = badIssue(t, "Bad Input Root", true, now.Add(-time.Hour), now.Add(48*time.Hour), nil)
	k.client = badIssue(t, "device-0001", false, now.Add(-time.Hour), now.Add(24*time.Hour), k.root)
	k.other = badIssue(t, "device-0002", false, now.Add(-time.Hour), now.Add(24*time.Hour), k.root)
	k.expiredCA = badIssue(t, "Expired Root", true, now.Add(-72*time.Hour), now.Add(-24*time.Hour), nil)
	k.futureCA = badIssue(t, "Future Root", true, now.Add(24*time.Hour), now.Add(72*time.Hour), nil)
	k.leaf = badIssue(t, "fota.example", false, now.Add(-time.Hour), now.Add(24*time.Hour), k.root)
	k.expiredLeaf = badIssue(t, "fota.example expired", false, now.Add(-72*time.Hour), now.Add(-24*time.Hour), k.root)
	k.futureLeaf = badIssue(t, "fota.example future", false, now.Add(24*time.Hour), now.Add(72*time.Hour), k.root)
	k.underExpired = badIssue(t, "fota.example under expired", false, now.Add(-72*time.Hour), now.Add(24*time.Hour), k.expiredCA)
	k.underFuture = badIssue(t, "fota.example under future", false, now.Add(-time.Hour), now.Add(72*time.Hour), k.futureCA)
	return k
}

// seed fills s with tag 1: the root, tag 2: the client pair, tag 3:
// session state.
func (k *badKit) seed(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	if err := Import(ctx, s, 1, CACert, "root.pem", k.root.PEM); err != nil {
		t.Fatal(err)
	}
	if err := ImportKeyPair(ctx, s, 2, "device.pem", k.client.PEM, "device.key", k.client.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, Ref{3, SessionState}, []byte("resumption state")); err != nil {
		t.Fatal(err)
	}
}

// badBackend is a store under test and, for a directory store, its folder.
type badBackend struct {
	name string
	open func(t *testing.T) (s Store, dir string)
	// seals: values are encrypted on disk with a fresh nonce at each Put,
	// so putting back an old value restores it but not its bytes on disk.
	seals bool
}

func badBackends() []badBackend {
	dir := func(t *testing.T) (Store, string) {
		d := filepath.Join(t.TempDir(), "store")
		s, err := OpenDir(d)
		if err != nil {
			t.Fatal(err)
		}
		return s, d
	}
	return []badBackend{
		{"memory", func(*testing.T) (Store, string) { return NewMemory(), "" }, false},
		{"dir", dir, false},
		{"encrypted-dir", func(t *testing.T) (Store, string) {
			s, d := dir(t)
			return Encrypted(s, &[32]byte{9}), d
		}, true},
	}
}

// storeSnapshot is everything a store holds: its listing, every value, and
// for a directory store every file and folder with its mode.
type storeSnapshot struct {
	List   []Info
	Values map[Ref][]byte
	Files  map[string]string // path under the store → mode and contents
}

func snapshotOf(t *testing.T, s Store, dir string) storeSnapshot {
	t.Helper()
	ctx := context.Background()
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	snap := storeSnapshot{List: infos, Values: map[Ref][]byte{}}
	for _, in := range infos {
		v, err := s.Get(ctx, in.Ref)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		snap.Values[in.Ref] = v
	}
	if dir == "" {
		return snap
	}
	snap.Files = map[string]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		entry := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		snap.Files[rel] = entry
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return snap
}

// sealedFiles returns snap with the files' contents left out: the names,
// modes and decrypted values must still match.
func sealedFiles(snap storeSnapshot) storeSnapshot {
	out := snap
	out.Files = map[string]string{}
	for p, v := range snap.Files {
		out.Files[p], _, _ = strings.Cut(v, " ")
	}
	return out
}

// sameSnapshot reports how two snapshots differ, or "" if they do not.
func sameSnapshot(before, after storeSnapshot) string {
	if !reflect.DeepEqual(before.List, after.List) {
		return fmt.Sprintf("List was %v, is %v", before.List, after.List)
	}
	for r, v := range before.Values {
		if !bytes.Equal(v, after.Values[r]) {
			return fmt.Sprintf("%v changed", r)
		}
	}
	if len(before.Values) != len(after.Values) {
		return "credentials were added"
	}
	for p, v := range before.Files {
		if w, ok := after.Files[p]; !ok {
			return p + " is gone"
		} else if v != w {
			return p + " changed"
		}
	}
	for p := range after.Files {
		if _, ok := before.Files[p]; !ok {
			return p + " appeared"
		}
	}
	return ""
}

// badCase is one piece of bad input and what must be said about it.
type badCase struct {
	name string
	op   func(ctx context.Context, s Store) error
	is   []error  // errors.Is targets
	file string   // the file an *ImportError must name ("": not an import error)
	ref  Ref      // where the *ImportError says it was to go
	says []string // parts of the message
}

// checkBad runs op on a seeded store of every backend and checks the
// error and that nothing in the store changed.
func checkBad(t *testing.T, k *badKit, cases []badCase) {
	for _, b := range badBackends() {
		t.Run(b.name, func(t *testing.T) {
			s, dir := b.open(t)
			k.seed(t, s)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := snapshotOf(t, s, dir)
					err := tc.op(context.Background(), s)
					if diff := sameSnapshot(before, snapshotOf(t, s, dir)); diff != "" {
						t.Errorf("the store changed: %s (error %v)", diff, err)
					}
					checkBadError(t, err, tc)
				})
			}
		})
	}
}

func checkBadError(t *testing.T, err error, tc badCase) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, target := range tc.is {
		if !errors.Is(err, target) {
			t.Errorf("error %q does not wrap %v", err, target)
		}
	}
	if tc.file != "" {
		var ie *ImportError
		if !errors.As(err, &ie) {
			t.Errorf("error %q (%T) is not an *ImportError", err, err)
		} else if ie.Name != tc.file || ie.Ref != tc.ref {
			t.Errorf("ImportError names %q for %v, want %q for %v", ie.Name, ie.Ref, tc.file, tc.ref)
		}
		tc.says = append(tc.says, tc.file, tc.ref.String())
	}
	for _, want := range tc.says {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// importOf is an op importing data from the file name as tag, kind.
func importOf(tag Tag, kind Kind, name string, data []byte) func(context.Context, Store) error {
	return func(ctx context.Context, s Store) error { return Import(ctx, s, tag, kind, name, data) }
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestBadInputMalformed imports malformed PEM and DER over credentials that
// are stored and under a new tag.
func TestBadInputMalformed(t *testing.T) {
	k := newBadKit(t)
	badB64 := []byte("-----BEGIN CERTIFICATE-----\n!!!! this is not base64 !!!!\n-----END CERTIFICATE-----\n")
	cut := k.other.PEM[:len(k.other.PEM)/2] // no END line
	keyBadB64 := []byte("-----BEGIN PRIVATE KEY-----\nMIGH*not*base64\n-----END PRIVATE KEY-----\n")
	binary := []byte{0x00, 0x01, 0xfe, 0xff, 0x30, 0x82}
	mal := []error{ErrMalformed}
	ca, cert, key := Ref{1, CACert}, Ref{2, ClientCert}, Ref{2, PrivateKey}
	newCA := Ref{7, CACert}
	cases := []badCase{
		{"bad base64", importOf(1, CACert, "b64.pem", badB64), mal, "b64.pem", ca, []string{"block 1", `"CERTIFICATE"`, "does not decode"}},
		{"bad base64 in a new tag", importOf(7, CACert, "b64.pem", badB64), mal, "b64.pem", newCA, []string{"block 1", "does not decode"}},
		{"truncated block", importOf(1, CACert, "cut.pem", cut), mal, "cut.pem", ca, []string{"block 1", "cut short", "no END line"}},
		{"truncated second certificate", importOf(1, CACert, "bundle.pem", cat(k.root.PEM, cut)), mal, "bundle.pem", ca, []string{"block 2", "cut short"}},
		{"truncated block before a good one", importOf(1, CACert, "bundle.pem", cat(cut, k.root.PEM)), mal, "bundle.pem", ca, []string{"block 1", "cut short"}},
		{"bad base64 in the second certificate", importOf(1, CACert, "bundle.pem", cat(k.root.PEM, badB64)), mal, "bundle.pem", ca, []string{"block 2", "does not decode"}},
		{"bad base64 before a good certificate", importOf(1, CACert, "bundle.pem", cat(badB64, k.root.PEM)), mal, "bundle.pem", ca, []string{"block 1", "does not decode"}},
		{"END line of another type", importOf(1, CACert, "end.pem", bytes.Replace(k.root.PEM, []byte("END CERTIFICATE"), []byte("END PRIVATE KEY"), 1)), mal, "end.pem", ca, []string{"block 1", "does not decode"}},
		{"trailing binary garbage", importOf(1, CACert, "tail.pem", cat(k.root.PEM, binary)), mal, "tail.pem", ca, []string{"binary data after PEM block 1"}},
		{"leading binary garbage", importOf(1, CACert, "head.pem", cat(binary, k.root.PEM)), mal, "head.pem", ca, []string{"binary data before the first PEM block"}},
		{"stray END line", importOf(1, CACert, "end.pem", cat(k.root.PEM, []byte("-----END CERTIFICATE-----\n"))), mal, "end.pem", ca, []string{"END line without its BEGIN", "after PEM block 1"}},
		{"key as a CA", importOf(1, CACert, "key.pem", k.other.KeyPEM), mal, "key.pem", ca, []string{`unexpected PEM block 1 "PRIVATE KEY"`, "want CERTIFICATE"}},
		{"key as a client certificate", importOf(2, ClientCert, "key.pem", k.other.KeyPEM), mal, "key.pem", cert, []string{`unexpected PEM block 1 "PRIVATE KEY"`}},
		{"certificate as a key", importOf(2, PrivateKey, "cert.pem", k.other.PEM), mal, "cert.pem", key, []string{`unexpected PEM block 1 "CERTIFICATE"`, "want PRIVATE KEY"}},
		{"certificate after the key", importOf(2, PrivateKey, "both.pem", cat(k.client.KeyPEM, k.client.PEM)), mal, "both.pem", key, []string{`unexpected PEM block 2 "CERTIFICATE"`}},
		{"two keys", importOf(2, PrivateKey, "two.key", cat(k.client.KeyPEM, k.other.KeyPEM)), mal, "two.key", key, []string{"more than one private key", "block 2"}},
		{"empty CA file", importOf(1, CACert, "empty.pem", nil), mal, "empty.pem", ca, []string{"empty"}},
		{"blank CA file", importOf(1, CACert, "blank.pem", []byte("\n \r\n\t\n")), mal, "blank.pem", ca, []string{"empty"}},
		{"empty certificate file", importOf(2, ClientCert, "empty.pem", nil), mal, "empty.pem", cert, []string{"empty"}},
		{"empty key file", importOf(2, PrivateKey, "empty.key", []byte{}), mal, "empty.key", key, []string{"empty"}},
		{"DER garbage as a CA", importOf(1, CACert, "junk.der", []byte{0x30, 0x82, 0x01, 0x0a, 0x02, 0x01}), mal, "junk.der", ca, []string{"not a PEM or DER certificate"}},
		{"DER with trailing bytes", importOf(1, CACert, "ca.der", cat(k.root.Cert.Raw, []byte{0, 0, 0})), mal, "ca.der", ca, []string{"not a PEM or DER certificate", "trailing data"}},
		{"text that is not PEM", importOf(1, CACert, "readme.txt", []byte("this is a README, not a certificate\n")), mal, "readme.txt", ca, []string{"not a PEM or DER certificate"}},
		{"DER garbage as a key", importOf(2, PrivateKey, "junk.key", []byte{0x30, 0x03, 0x02, 0x01, 0x00}), mal, "junk.key", key, []string{"not a PKCS#8, SEC1 or PKCS#1 private key"}},
		{"bad base64 key", importOf(2, PrivateKey, "b64.key", keyBadB64), mal, "b64.key", key, []string{"block 1", `"PRIVATE KEY"`, "does not decode"}},
		{"truncated key", importOf(2, PrivateKey, "cut.key", k.other.KeyPEM[:len(k.other.KeyPEM)/2]), mal, "cut.key", key, []string{"cut short"}},
		{"PEM key block holding garbage", importOf(2, PrivateKey, "junk.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")})), mal, "junk.key", key, []string{"not a PKCS#8"}},
		{"encrypted key", importOf(2, PrivateKey, "enc.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})), nil, "enc.key", key, []string{"encrypted"}},
		{"leaf as a CA", importOf(1, CACert, "leaf.pem", k.other.PEM), nil, "leaf.pem", ca, []string{`"CN=device-0002" is not a CA certificate`}},
		{"a CA after a leaf", importOf(1, CACert, "mixed.pem", cat(k.root.PEM, k.other.PEM)), nil, "mixed.pem", ca, []string{"not a CA certificate"}},
		{"session state", importOf(3, SessionState, "s.bin", []byte("x")), nil, "s.bin", Ref{3, SessionState}, []string{"cannot import", "session"}},
		{"pair with a malformed certificate", func(ctx context.Context, s Store) error {
			return ImportKeyPair(ctx, s, 2, "pair.pem", cut, "pair.key", k.other.KeyPEM)
		}, mal, "pair.pem", cert, []string{"cut short"}},
		{"pair with a malformed key", func(ctx context.Context, s Store) error {
			return ImportKeyPair(ctx, s, 2, "pair.pem", k.other.PEM, "pair.key", keyBadB64)
		}, mal, "pair.key", key, []string{"does not decode"}},
		{"pair with an empty key in a new tag", func(ctx context.Context, s Store) error {
			return ImportKeyPair(ctx, s, 8, "pair.pem", k.other.PEM, "pair.key", nil)
		}, mal, "pair.key", Ref{8, PrivateKey}, []string{"empty"}},
	}
	checkBad(t, k, cases)
}

// TestBadInputGoodPEMStillImports checks the other side of strict PEM:
// explanatory text around blocks (RFC 7468), CRLF line ends and EC
// PARAMETERS before a key are accepted, and what is stored is the clean
// PEM of the certificates.
func TestBadInputGoodPEMStillImports(t *testing.T) {
	k := newBadKit(t)
	ctx := context.Background()
	s := NewMemory()
	text := []byte("Subject: CN=Bad Input Root\nissuer= CN=Bad Input Root\n")
	crlf := bytes.ReplaceAll(k.expiredCA.PEM, []byte("\n"), []byte("\r\n"))
	if err := Import(ctx, s, 1, CACert, "bundle.pem", cat(text, k.root.PEM, text, crlf, []byte("\n# end of bundle\n"))); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, Ref{1, CACert})
	if want := cat(k.root.PEM, k.expiredCA.PEM); !bytes.Equal(got, want) {
		t.Errorf("stored %q, want the two certificates alone", got)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	if err := Import(ctx, s, 2, PrivateKey, "ec.key", cat(params, k.client.KeyPEM)); err != nil {
		t.Errorf("key after EC PARAMETERS: %v", err)
	}
}

// TestBadInputKeyMismatch imports keys and certificates that do not belong
// to what is stored, and pairs that do not belong together.
func TestBadInputKeyMismatch(t *testing.T) {
	k := newBadKit(t)
	mm := []error{ErrKeyMismatch}
	cases := []badCase{
		{"key for another certificate", importOf(2, PrivateKey, "other.key", k.other.KeyPEM), mm, "other.key", Ref{2, PrivateKey},
			[]string{"does not match", `"CN=device-0001"`, "tag 2"}},
		{"DER key for another certificate", importOf(2, PrivateKey, "other.der", k.other.KeyDER), mm, "other.der", Ref{2, PrivateKey},
			[]string{"does not match", "tag 2"}},
		{"certificate for another key", importOf(2, ClientCert, "other.pem", k.other.PEM), mm, "other.pem", Ref{2, ClientCert},
			[]string{"does not match", `"CN=device-0002"`, "key stored under tag 2"}},
		{"pair that does not match", func(ctx context.Context, s Store) error {
			return ImportKeyPair(ctx, s, 2, "device.pem", k.client.PEM, "other.key", k.other.KeyPEM)
		}, mm, "other.key", Ref{2, PrivateKey}, []string{`"CN=device-0001"`, "device.pem"}},
		{"pair that does not match in a new tag", func(ctx context.Context, s Store) error {
			return ImportKeyPair(ctx, s, 9, "other.pem", k.other.PEM, "device.key", k.client.KeyPEM)
		}, mm, "device.key", Ref{9, PrivateKey}, []string{`"CN=device-0002"`, "other.pem"}},
	}
	checkBad(t, k, cases)

	// A store edited by hand so that the pair no longer matches: loading it
	// fails, naming the tag.
	s := NewMemory()
	k.seed(t, s)
	ctx := context.Background()
	if err := s.Put(ctx, Ref{2, PrivateKey}, k.other.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(ctx, s, 2); !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "tag 2") {
		t.Errorf("LoadKeyPair of a mismatched pair: %v", err)
	}
}

// TestBadInputMissing asks for tags and kinds that are not stored.
func TestBadInputMissing(t *testing.T) {
	k := newBadKit(t)
	nf := []error{ErrNotFound}
	get := func(r Ref) func(context.Context, Store) error {
		return func(ctx context.Context, s Store) error { _, err := s.Get(ctx, r); return err }
	}
	del := func(r Ref) func(context.Context, Store) error {
		return func(ctx context.Context, s Store) error { return s.Delete(ctx, r) }
	}
	cases := []badCase{
		{"get of a missing tag", get(Ref{9, CACert}), nf, "", Ref{}, []string{"not found", "tag 9 ca"}},
		{"get of a missing kind", get(Ref{1, PrivateKey}), nf, "", Ref{}, []string{"tag 1 key"}},
		{"get of missing session state", get(Ref{2, SessionState}), nf, "", Ref{}, []string{"tag 2 session"}},
		{"delete of a missing tag", del(Ref{9, ClientCert}), nf, "", Ref{}, []string{"tag 9 cert"}},
		{"delete of a missing kind", del(Ref{3, CACert}), nf, "", Ref{}, []string{"tag 3 ca"}},
		{"key pair of a missing tag", func(ctx context.Context, s Store) error { _, err := LoadKeyPair(ctx, s, 9); return err },
			nf, "", Ref{}, []string{"tag 9 cert"}},
		{"key pair of a tag without one", func(ctx context.Context, s Store) error { _, err := LoadKeyPair(ctx, s, 1); return err },
			nf, "", Ref{}, []string{"tag 1 cert"}},
		{"signer of a missing tag", func(ctx context.Context, s Store) error { _, err := Signer(ctx, s, 9); return err },
			nf, "", Ref{}, []string{"tag 9 key"}},
		{"verifier over missing tags", func(ctx context.Context, s Store) error { _, err := NewVerifier(ctx, s, 8, 9); return err },
			nf, "", Ref{}, []string{"no CA certificate", "[8 9]"}},
		{"verifier over tags without a CA", func(ctx context.Context, s Store) error { _, err := NewVerifier(ctx, s, 2, 3); return err },
			nf, "", Ref{}, []string{"no CA certificate", "[2 3]"}},
		{"unknown kind", get(Ref{1, Kind(9)}), []error{ErrUnknownKind}, "", Ref{}, []string{"unknown kind 9", "tag 1"}},
	}
	checkBad(t, k, cases)
}

// TestBadInputServerName verifies a good chain for a name it does not
// carry: a *NoAnchorError naming the name, wrapping x509.HostnameError.
func TestBadInputServerName(t *testing.T) {
	k := newBadKit(t)
	for _, b := range badBackends() {
		t.Run(b.name, func(t *testing.T) {
			s, dir := b.open(t)
			k.seed(t, s)
			before := snapshotOf(t, s, dir)
			v, err := NewVerifier(context.Background(), s, 1)
			if err != nil {
				t.Fatal(err)
			}
			chain := []*x509.Certificate{k.leaf.Cert}
			if _, err := v.verifyNow("fota.example", chain); err != nil {
				t.Fatalf("the right name: %v", err)
			}
			_, err = v.verifyNow("wrong.example", chain)
			var nae *NoAnchorError
			var he x509.HostnameError
			if !errors.As(err, &nae) || nae.ServerName != "wrong.example" || !errors.As(err, &he) {
				t.Fatalf("wrong name: %v, want a *NoAnchorError for wrong.example wrapping x509.HostnameError", err)
			}
			for _, want := range []string{"wrong.example", "fota.example", `tag 1 "CN=Bad Input Root"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if diff := sameSnapshot(before, snapshotOf(t, s, dir)); diff != "" {
				t.Errorf("verification changed the store: %s", diff)
			}
		})
	}
}

// TestBadInputValidity settles what happens to certificates outside their
// validity period. Import stores them (a device's clock may be unset when
// it is provisioned, and a new root is stored before it is valid);
// CheckValidity names each with its validity period for callers that trust
// their clock (tlsapp cred import refuses them); and a connection relying
// on one fails verification with a *NoAnchorError wrapping an
// x509.CertificateInvalidError that carries the certificate, whose message
// gives the bound that was crossed.
func TestBadInputValidity(t *testing.T) {
	k := newBadKit(t)
	ctx := context.Background()
	now := time.Now()

	t.Run("import", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			kind    Kind
			c       *testpki.Cert
			expired bool
		}{
			{"expired CA", CACert, k.expiredCA, true},
			{"future CA", CACert, k.futureCA, false},
			{"expired client certificate", ClientCert, k.expiredLeaf, true},
			{"future client certificate", ClientCert, k.futureLeaf, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := NewMemory()
				if err := Import(ctx, s, 5, tc.kind, "c.pem", tc.c.PEM); err != nil {
					t.Fatalf("Import refused a certificate outside its validity period: %v", err)
				}
				if tc.kind == ClientCert {
					if err := Import(ctx, s, 5, PrivateKey, "c.key", tc.c.KeyPEM); err != nil {
						t.Fatal(err)
					}
					if _, err := LoadKeyPair(ctx, s, 5); err != nil {
						t.Errorf("LoadKeyPair: %v", err)
					}
				}
				err := CheckValidity(cat(k.root.PEM, tc.c.PEM), now)
				var ve *ValidityError
				if !errors.As(err, &ve) || ve.Subject != tc.c.Cert.Subject.String() || ve.Expired() != tc.expired ||
					!ve.NotBefore.Equal(tc.c.Cert.NotBefore) || !ve.NotAfter.Equal(tc.c.Cert.NotAfter) {
					t.Fatalf("CheckValidity: %v, want a *ValidityError for %s", err, tc.c.Cert.Subject)
				}
				state := map[bool]string{true: "has expired", false: "is not valid yet"}[tc.expired]
				for _, want := range []string{tc.c.Cert.Subject.String(), state,
					tc.c.Cert.NotBefore.UTC().Format("2006-01-02 15:04:05"), tc.c.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05")} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%q does not say %q", err, want)
					}
				}
			})
		}
		if err := CheckValidity(cat(k.root.PEM, k.leaf.PEM), now); err != nil {
			t.Errorf("CheckValidity of valid certificates: %v", err)
		}
		if err := CheckValidity([]byte("-----BEGIN CERTIFICATE-----\n"), now); !errors.Is(err, ErrMalformed) {
			t.Errorf("CheckValidity of malformed PEM: %v", err)
		}
	})

	t.Run("verify", func(t *testing.T) {
		s := NewMemory()
		for tag, c := range map[Tag]*testpki.Cert{1: k.root, 2: k.expiredCA, 3: k.futureCA} {
			if err := Import(ctx, s, tag, CACert, "ca.pem", c.PEM); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name   string
			tag    Tag
			leaf   *testpki.Cert
			bad    *testpki.Cert // the certificate outside its validity period
			after  bool          // now is after its NotAfter (else before its NotBefore)
			anchor string
		}{
			{"expired server certificate", 1, k.expiredLeaf, k.expiredLeaf, true, "Bad Input Root"},
			{"future server certificate", 1, k.futureLeaf, k.futureLeaf, false, "Bad Input Root"},
			{"expired CA", 2, k.underExpired, k.expiredCA, true, "Expired Root"},
			{"future CA", 3, k.underFuture, k.futureCA, false, "Future Root"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := snapshotOf(t, s, "")
				v, err := NewVerifier(ctx, s, tc.tag)
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.verifyNow("fota.example", []*x509.Certificate{tc.leaf.Cert})
				var nae *NoAnchorError
				var ci x509.CertificateInvalidError
				if !errors.As(err, &nae) || !errors.As(err, &ci) || ci.Reason != x509.Expired || !ci.Cert.Equal(tc.bad.Cert) {
					t.Fatalf("%v, want a *NoAnchorError wrapping x509.CertificateInvalidError (Expired) for %s", err, tc.bad.Cert.Subject)
				}
				bound, rel := tc.bad.Cert.NotAfter, "after"
				if !tc.after {
					bound, rel = tc.bad.Cert.NotBefore, "before"
				}
				var ve *ValidityError
				if !errors.As(err, &ve) || ve.Subject != tc.bad.Cert.Subject.String() || !ve.NotAfter.Equal(tc.bad.Cert.NotAfter) {
					t.Errorf("%v, want a *ValidityError naming %s", err, tc.bad.Cert.Subject)
				}
				state := "has expired"
				if !tc.after {
					state = "is not valid yet"
				}
				for _, want := range []string{"expired or is not yet valid", rel + " " + bound.UTC().Format(time.RFC3339), tc.anchor,
					fmt.Sprintf("%q %s", tc.bad.Cert.Subject.String(), state)} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%q does not say %q", err, want)
					}
				}
				if diff := sameSnapshot(before, snapshotOf(t, s, "")); diff != "" {
					t.Errorf("verification changed the store: %s", diff)
				}
			})
		}
	})
}

// failingStore fails Put of one kind, and Put or Delete while undoing.
type failingStore struct {
	Store
	failPut   Kind
	failUndo  bool
	putsSoFar int
}

var errInjected = errors.New("injected write failure")

func (f *failingStore) Put(ctx context.Context, r Ref, v []byte) error {
	f.putsSoFar++
	if r.Kind == f.failPut || (f.failUndo && f.putsSoFar > 2) {
		return fmt.Errorf("writing %v: %w", r, errInjected)
	}
	return f.Store.Put(ctx, r, v)
}

func (f *failingStore) Delete(ctx context.Context, r Ref) error {
	if f.failUndo {
		return fmt.Errorf("deleting %v: %w", r, errInjected)
	}
	return f.Store.Delete(ctx, r)
}

// cutContext is a context that ends after its Err has been asked a number
// of times.
type cutContext struct {
	context.Context
	cancel context.CancelFunc
	after  int
	calls  int
}

func (c *cutContext) Err() error {
	c.calls++
	if c.calls > c.after {
		c.cancel()
	}
	return c.Context.Err()
}

// TestBadInputWriteFails makes writes fail in ways that work for every
// user, root included, and with permissions when not running as root.
func TestBadInputWriteFails(t *testing.T) {
	k := newBadKit(t)
	ctx := context.Background()

	t.Run("store under a regular file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "creds")
		if err := os.WriteFile(file, []byte("not a folder"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{file, filepath.Join(file, "store")} {
			_, err := OpenDir(dir)
			if !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("OpenDir(%s): %v, want ENOTDIR naming it", dir, err)
			}
		}
		if b, _ := os.ReadFile(file); string(b) != "not a folder" {
			t.Errorf("the file was changed: %q", b)
		}
	})

	t.Run("tag folder is a regular file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		k.seed(t, s)
		if err := os.WriteFile(filepath.Join(dir, "7"), []byte("in the way"), 0o600); err != nil {
			t.Fatal(err)
		}
		before := snapshotOf(t, s, dir)
		err = Import(ctx, s, 7, CACert, "root.pem", k.root.PEM)
		if !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), "tag 7 ca") || !strings.Contains(err.Error(), filepath.Join(dir, "7")) {
			t.Errorf("import into a tag whose folder is a file: %v", err)
		}
		if diff := sameSnapshot(before, snapshotOf(t, s, dir)); diff != "" {
			t.Errorf("the store changed: %s", diff)
		}
	})

	t.Run("write cut short in a new tag", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		k.seed(t, s)
		before := snapshotOf(t, s, dir)
		// The context ends after Put has made the tag's folder and
		// written the temporary file, before it takes the value's name.
		ctx, cancel := context.WithCancel(ctx)
		cut := &cutContext{Context: ctx, cancel: cancel, after: 1}
		err = Import(cut, s, 7, CACert, "root.pem", k.root.PEM)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "tag 7 ca") {
			t.Errorf("a Put cut short: %v", err)
		}
		if cut.calls < 2 {
			t.Fatalf("the context was asked %d times: the test no longer cuts the write after it starts", cut.calls)
		}
		if diff := sameSnapshot(before, snapshotOf(t, s, dir)); diff != "" {
			t.Errorf("the store changed: %s", diff)
		}
	})

	for _, b := range badBackends() {
		t.Run("pair whose certificate cannot be written/"+b.name, func(t *testing.T) {
			for _, undoFails := range []bool{false, true} {
				s, dir := b.open(t)
				k.seed(t, s)
				before := snapshotOf(t, s, dir)
				fs := &failingStore{Store: s, failPut: ClientCert, failUndo: undoFails}
				for _, tag := range []Tag{2, 6} { // replacing a pair, and a new tag
					fs.putsSoFar = 0
					err := ImportKeyPair(ctx, fs, tag, "other.pem", k.other.PEM, "other.key", k.other.KeyPEM)
					if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), fmt.Sprintf("tag %d cert", tag)) {
						t.Errorf("tag %d: %v, want the write error", tag, err)
					}
					if undoFails {
						if !strings.Contains(err.Error(), fmt.Sprintf("the new key of tag %d is stored but its certificate is not", tag)) {
							t.Errorf("tag %d: a failed undo is not reported: %v", tag, err)
						}
						continue
					}
					was, is := before, snapshotOf(t, s, dir)
					if b.seals {
						// The old key is put back re-encrypted.
						was, is = sealedFiles(was), sealedFiles(is)
					}
					if diff := sameSnapshot(was, is); diff != "" {
						t.Errorf("tag %d: the store changed: %s", tag, diff)
					}
				}
			}
		})
	}

	t.Run("read-only folders", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root, which writes through mode 0500: the cases above make writes fail without permissions, and cmd/tlsapp runs this case as an unprivileged user")
		}
		dir := filepath.Join(t.TempDir(), "store")
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		k.seed(t, s)
		for _, tc := range []struct {
			name   string
			folder string // made read-only
			tag    Tag
		}{
			{"store folder, new tag", dir, 7},
			{"tag folder", filepath.Join(dir, "1"), 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := snapshotOf(t, s, dir)
				if err := os.Chmod(tc.folder, 0o500); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(tc.folder, 0o700)
				err := Import(ctx, s, tc.tag, CACert, "root.pem", k.root.PEM)
				if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), Ref{tc.tag, CACert}.String()) ||
					!strings.Contains(err.Error(), filepath.Join(dir, fmt.Sprint(tc.tag))) {
					t.Errorf("import into a read-only folder: %v", err)
				}
				if diff := sameSnapshot(before, snapshotOf(t, s, dir)); diff != "" {
					t.Errorf("the store changed: %s", diff)
				}
				if got, _ := s.List(ctx); !slices.Equal(got, before.List) {
					t.Errorf("a read-only store cannot be listed as before: %v", got)
				}
			})
		}
	})
}
