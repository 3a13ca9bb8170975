package credstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestImport(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t, "Device CA", nil)
	leaf := newLeaf(t, ca, time.Now().Add(time.Hour))
	leafKey := leaf.PrivateKey.(*ecdsa.PrivateKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	sec1, _ := x509.MarshalECPrivateKey(leafKey)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})

	tests := []struct {
		name  string
		kind  Kind
		data  []byte
		fails string // part of the error, "" for success
	}{
		{"ca.pem", CACert, ca.pem, ""},
		{"ca.der", CACert, ca.cert.Raw, ""},
		{"leaf-as-ca.pem", CACert, leafPEM, "not a CA certificate"},
		{"empty.pem", CACert, []byte("nothing here"), "not a PEM or DER certificate"},
		{"key-as-cert.pem", CACert, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), "unexpected PEM block"},
		{"key.pk8.pem", PrivateKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), ""},
		{"key.sec1.pem", PrivateKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ""},
		{"key.sec1.der", PrivateKey, sec1, ""},
		{"garbage.key", PrivateKey, []byte("-----BEGIN PRIVATE KEY-----\nnope\n"), "malformed PEM"},
		{"cert.pem", ClientCert, leafPEM, ""},
		{"other.key", PrivateKey, otherDER, "does not match"},
		{"rsa.key", PrivateKey, x509.MarshalPKCS1PrivateKey(rsaKey), "does not match"},
	}
	s := NewMemory()
	for _, tt := range tests {
		before, _ := s.List(ctx)
		err := Import(ctx, s, 1, tt.kind, tt.name, tt.data)
		after, _ := s.List(ctx)
		if tt.fails == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var ie *ImportError
		if !errors.As(err, &ie) || ie.Name != tt.name || !strings.Contains(err.Error(), tt.fails) {
			t.Errorf("%s: error %v, want one naming the file and %q", tt.name, err, tt.fails)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("%s: a refused import changed the store", tt.name)
		}
	}
	pair, err := LoadKeyPair(ctx, s, 1)
	if err != nil || pair.Leaf.Subject.CommonName != "fota.example" {
		t.Fatalf("LoadKeyPair: %v", err)
	}
	// A PKCS#1 RSA key imports under its own tag.
	if err := Import(ctx, s, 2, PrivateKey, "rsa.key", x509.MarshalPKCS1PrivateKey(rsaKey)); err != nil {
		t.Errorf("PKCS#1 key: %v", err)
	}
}

// TestImportRefusesTagZero: tag 0 names anchors that are not from a store
// (trust.NoTag), so nothing may be imported under it.
func TestImportRefusesTagZero(t *testing.T) {
	ctx := context.Background()
	s := NewMemory()
	ca := newCA(t, "tag zero root", nil)
	if err := Import(ctx, s, 0, CACert, "ca.pem", ca.pem); !errors.Is(err, ErrReservedTag) {
		t.Errorf("Import under tag 0: %v, want ErrReservedTag", err)
	}
	if infos, _ := s.List(ctx); len(infos) != 0 {
		t.Errorf("the store holds %v", infos)
	}
}
