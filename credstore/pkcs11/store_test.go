package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"

	"github.com/tlsapp/tlsapp/credstore"
	"github.com/tlsapp/tlsapp/credstore/credstoretest"
	"github.com/tlsapp/tlsapp/credstore/pkcs11"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/tlsapp"
)

const (
	tokenLabel = "credstore-test"
	userPIN    = "1234"
	importTag  = credstore.Tag(9) // the tag of the key setUp imports with softhsm2-util
)

// The token every test shares: SoftHSM2 reads its configuration once per
// process, when the module is initialised.
var (
	setupOnce  sync.Once
	token      *crypto11.Context
	importKey  *ecdsa.PrivateKey // the Go copy of the imported key, to make certificates for it
	setupErr   error
	setupSkip  string
	cleanupDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if token != nil {
		token.Close()
	}
	if cleanupDir != "" {
		os.RemoveAll(cleanupDir)
	}
	os.Exit(code)
}

// softHSM returns the shared token, initialising it on first use, or skips
// the test when SoftHSM2 is not installed (fails instead when CI=true).
func softHSM(t *testing.T) *crypto11.Context {
	t.Helper()
	setupOnce.Do(setUp)
	if setupSkip != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI=true, so this is a failure)", setupSkip)
		}
		t.Skip(setupSkip)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return token
}

func modulePath() string {
	if p := os.Getenv("SOFTHSM2_MODULE"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// setUp makes a token in a temporary directory, imports one key into it
// with softhsm2-util (as a device's provisioning would), and logs in.
func setUp() {
	util, err := exec.LookPath("softhsm2-util")
	module := modulePath()
	if err != nil || module == "" {
		setupSkip = "SoftHSM2 is not installed: apt-get install -y softhsm2"
		return
	}
	dir, err := os.MkdirTemp("", "credstore-softhsm-")
	if err != nil {
		setupErr = err
		return
	}
	cleanupDir = dir
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	os.Mkdir(tokens, 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600)
	os.Setenv("SOFTHSM2_CONF", conf) // before the module is loaded: it reads this once
	run := func(args ...string) error {
		out, err := exec.Command(util, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("softhsm2-util %v: %v\n%s", args, err, out)
		}
		return nil
	}
	if setupErr = run("--init-token", "--free", "--label", tokenLabel, "--pin", userPIN, "--so-pin", "123456"); setupErr != nil {
		return
	}
	importKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(importKey)
	keyFile := filepath.Join(dir, "key.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if setupErr = run("--import", keyFile, "--token", tokenLabel, "--pin", userPIN,
		"--id", fmt.Sprintf("%x", pkcs11.KeyID(importTag)), "--label", "imported"); setupErr != nil {
		return
	}
	os.Remove(keyFile) // from here on, the key exists only on the token
	token, setupErr = crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: tokenLabel, Pin: userPIN})
}

// newStore returns a store over the shared token, keeping other credentials
// in memory.
func newStore(t *testing.T) *pkcs11.Store {
	return pkcs11.New(softHSM(t), credstore.NewMemory())
}

// TestConformance runs the shared suite. The suite finds that private keys
// cannot be put and checks every other kind, which the store keeps in its
// other store; it also checks that List of a fresh store is empty, which
// here means that the token holds no key other tests left behind (the
// imported one is hidden by using a store that filters it out).
func TestConformance(t *testing.T) {
	softHSM(t)
	credstoretest.Run(t, func(t *testing.T) credstore.Store { return withoutTag{newStore(t), importTag} })
}

// withoutTag hides one tag's key from List, so that the token's
// provisioned key does not count as a credential the suite never put.
type withoutTag struct {
	*pkcs11.Store
	tag credstore.Tag
}

func (w withoutTag) List(ctx context.Context) ([]credstore.Info, error) {
	infos, err := w.Store.List(ctx)
	var out []credstore.Info
	for _, in := range infos {
		if in.Tag != w.tag || in.Kind != credstore.PrivateKey {
			out = append(out, in)
		}
	}
	return out, err
}

// TestKeyLifecycle generates a key on the token, signs with it, lists it by
// its public key, refuses to hand it out, and deletes it.
func TestKeyLifecycle(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const tag = 5
	if _, err := s.Signer(ctx, tag); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("Signer of a tag without a key: %v, want ErrNotFound", err)
	}
	key, err := s.GenerateKey(ctx, tag, elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Delete(context.Background(), credstore.Ref{Tag: tag, Kind: credstore.PrivateKey}) })
	if _, err := s.GenerateKey(ctx, tag, elliptic.P256()); err == nil {
		t.Error("a second GenerateKey for the same tag succeeded")
	}

	signer, err := credstore.Signer(ctx, s, tag) // through the SignerStore interface
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("firmware manifest"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("the token's signature does not verify with its public key")
	}

	_, err = s.Get(ctx, credstore.Ref{Tag: tag, Kind: credstore.PrivateKey})
	if !errors.Is(err, pkcs11.ErrNotExportable) || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Get of a key on the token: %v, want ErrNotExportable", err)
	}
	if err := s.Put(ctx, credstore.Ref{Tag: tag, Kind: credstore.PrivateKey}, []byte("key")); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Put of a key: %v, want ErrUnsupported", err)
	}

	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(key.Public())
	want := credstore.InfoOf(credstore.Ref{Tag: tag, Kind: credstore.PrivateKey}, pub)
	found := false
	for _, in := range infos {
		found = found || in == want
	}
	if !found {
		t.Errorf("List = %v, want it to include %v (the public key's digest)", infos, want)
	}

	if err := s.Delete(ctx, credstore.Ref{Tag: tag, Kind: credstore.PrivateKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Signer(ctx, tag); !errors.Is(err, credstore.ErrNotFound) {
		t.Errorf("Signer after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, credstore.Ref{Tag: tag, Kind: credstore.PrivateKey}); !errors.Is(err, credstore.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Signer(cancelled, importTag); !errors.Is(err, context.Canceled) {
		t.Errorf("Signer with a cancelled context: %v", err)
	}
	if _, err := s.GenerateKey(cancelled, 6, elliptic.P256()); !errors.Is(err, context.Canceled) {
		t.Errorf("GenerateKey with a cancelled context: %v", err)
	}
}

// TestClientAuthWithTokenKey imports a certificate for the key provisioned
// on the token, checks that one for another key is refused, and completes a
// mutually authenticated TLS handshake in which the token signs.
func TestClientAuthWithTokenKey(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	ca, caKey := selfSigned(t)
	certPEM := issue(t, ca, caKey, &importKey.PublicKey)

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var ie *credstore.ImportError
	err := credstore.Import(ctx, s, importTag, credstore.ClientCert, "other.pem", issue(t, ca, caKey, &other.PublicKey))
	if !errors.As(err, &ie) || ie.Name != "other.pem" || !errors.Is(err, credstore.ErrKeyMismatch) {
		t.Fatalf("a certificate for another key: %v, want ErrKeyMismatch naming other.pem", err)
	}
	if err := credstore.Import(ctx, s, importTag, credstore.ClientCert, "device.pem", certPEM); err != nil {
		t.Fatal(err)
	}
	if err := credstore.Import(ctx, s, importTag, credstore.PrivateKey, "stray.key", pemKey(t, other)); !errors.Is(err, credstore.ErrKeyMismatch) {
		t.Errorf("importing a software key beside the token's: %v", err)
	}

	pair, err := credstore.LoadKeyPair(ctx, s, importTag)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pair.PrivateKey.(*ecdsa.PrivateKey); ok {
		t.Fatal("LoadKeyPair returned a software key")
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert(t, ca, caKey)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	peer := make(chan string, 1)
	testnet.Serve(t, ln, 30*time.Second, func(c net.Conn) {
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			peer <- err.Error()
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.WriteString(tc, "hello")
	})
	// The client signs CertificateVerify with the token's key: ECDSA in
	// TLS 1.2 and 1.3 alike.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
			RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}, MinVersion: v, MaxVersion: v,
		})
		if err != nil {
			t.Fatalf("%s: %v", tls.VersionName(v), err)
		}
		io.ReadAll(c)
		c.Close()
		if got := <-peer; got != "device 9" {
			t.Errorf("%s: the server saw client %q, want \"device 9\"", tls.VersionName(v), got)
		}
	}

	// The same through tlsapp with the store as Config.Credentials: the CA
	// under one tag verifies the server, the token key under another signs.
	const caTag = 5
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	if err := credstore.Import(ctx, s, caTag, credstore.CACert, "ca.pem", caPEM); err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := tlsapp.Dial(dctx, "tcp", ln.Addr().String(), &tlsapp.Config{
			ServerName: "localhost", Credentials: credstore.Select(s, caTag, importTag),
			MinVersion: v, MaxVersion: v, RecordSizeLimit: 1024,
		})
		cancel()
		if err != nil {
			t.Fatalf("tlsapp %s: %v", tls.VersionName(v), err)
		}
		io.ReadAll(c)
		st := c.RecordState()
		c.Close()
		if got := <-peer; got != "device 9" {
			t.Errorf("tlsapp %s: the server saw client %q, want \"device 9\"", tls.VersionName(v), got)
		}
		if len(st.Anchors) != 1 || st.Anchors[0].Tag != caTag {
			t.Errorf("tlsapp %s: anchors %+v, want tag %d", tls.VersionName(v), st.Anchors, caTag)
		}
	}
}

func selfSigned(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Token Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

var serial int64 = 100

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, pub *ecdsa.PublicKey) []byte {
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "device 9"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func serverCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func pemKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
