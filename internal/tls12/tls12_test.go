package tls12

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestPRF checks the PRF against the TLS 1.2 SHA-256 test vector published
// on the IETF TLS list (Joseph Birr-Pixton's vectors, also used by
// several TLS libraries' tests).
func TestPRF(t *testing.T) {
	secret, _ := hex.DecodeString("9bbe436ba940f017b17652849a71db35")
	seed, _ := hex.DecodeString("a0ba9f936cda311827a6f796ffd5198c")
	want, _ := hex.DecodeString("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
	got := PRF(sha256.New, secret, "test label", seed, len(want))
	if !bytes.Equal(got, want) {
		t.Errorf("PRF\n got %x\nwant %x", got, want)
	}
}
