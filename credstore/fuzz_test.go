package credstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"reflect"
	"testing"
)

// FuzzImport feeds arbitrary bytes to the importer as every kind: it never
// panics, and a refused input leaves the store exactly as it was.
func FuzzImport(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	sec1, _ := x509.MarshalECPrivateKey(key)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	f.Add(sec1)
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	ctx := context.Background()
	base := NewMemory()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []Kind{CACert, ClientCert, PrivateKey} {
			before, _ := base.List(ctx)
			if err := Import(ctx, base, 1, kind, "fuzz.pem", data); err != nil {
				if after, _ := base.List(ctx); !reflect.DeepEqual(before, after) {
					t.Fatalf("refused import changed the store: %v", err)
				}
			} else {
				base.Delete(ctx, Ref{1, kind})
			}
		}
	})
}
