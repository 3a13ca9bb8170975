package guard

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestDeviceLimit checks each bound of a DeviceLimit at the limit and one
// byte past it: the record at the limit reaches the stack whole, the one
// past it ends the connection with a *DeviceError naming it, with none of
// its bytes handed over, no alert sent, and the record counted as received.
func TestDeviceLimit(t *testing.T) {
	sh12 := serverHelloRecord() // TLS 1.2, AES-128-GCM, no answer
	ccs := []byte{byte(recordlimit.TypeChangeCipherSpec), 3, 3, 0, 1, 1}
	sh13 := serverHelloRecord(
		wire.Extension{Type: extSupportedVersions, Data: []byte{3, 4}},
		wire.Extension{Type: extKeyShare, Data: []byte{0, 0x1d, 0, 1, 9}})
	// The suite follows the hello's type, length, version, random and
	// empty session ID: make it TLS_AES_128_GCM_SHA256.
	sh13[wire.HeaderLen+39], sh13[wire.HeaderLen+40] = 0x13, 0x01
	record := func(typ recordlimit.ContentType, n int) []byte {
		return AppendRecords(nil, typ, 0x0303, make([]byte, n), n)
	}
	helloLen := len(sh12) - wire.HeaderLen
	for _, tc := range []struct {
		name   string
		device DeviceLimit
		head   []byte // records the device takes
		last   []byte // the record under test
		limit  int    // 0: the device takes it too
	}{
		{"record: at the limit", DeviceLimit{Record: 1000}, append(append([]byte(nil), sh12...), ccs...), record(recordlimit.TypeApplicationData, 1000), 0},
		{"record: one past", DeviceLimit{Record: 1000}, append(append([]byte(nil), sh12...), ccs...), record(recordlimit.TypeApplicationData, 1001), 1000},
		{"record: the hello itself", DeviceLimit{Record: helloLen - 1}, nil, sh12, helloLen - 1},
		{"content, plaintext: at the limit", DeviceLimit{Content: helloLen}, nil, sh12, 0},
		{"content, plaintext: one past", DeviceLimit{Content: helloLen - 1}, nil, sh12, helloLen - 1},
		{"content, TLS 1.2 GCM: at the bound", DeviceLimit{Content: 1000}, append(append([]byte(nil), sh12...), ccs...), record(recordlimit.TypeApplicationData, 1024), 0},
		{"content, TLS 1.2 GCM: one past", DeviceLimit{Content: 1000}, append(append([]byte(nil), sh12...), ccs...), record(recordlimit.TypeApplicationData, 1025), 1024},
		{"content, TLS 1.3: at the bound", DeviceLimit{Content: 1000}, sh13, record(recordlimit.TypeApplicationData, 1017), 0},
		{"content, TLS 1.3: one past", DeviceLimit{Content: 1000}, sh13, record(recordlimit.TypeApplicationData, 1018), 1017},
		{"content below record", DeviceLimit{Content: 1000, Record: 2000}, append(append([]byte(nil), sh12...), ccs...), record(recordlimit.TypeApplicationData, 1025), 1024},
		{"record below content", DeviceLimit{Content: 1000, Record: 1010}, append(append([]byte(nil), sh12...), ccs...), record(recordlimit.TypeApplicationData, 1011), 1010},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(append([]byte(nil), tc.head...), tc.last...)
			tap := &tapConn{memConn: &memConn{r: bytes.NewReader(stream)}}
			c := NewConn(tap, recordlimit.Offer{})
			c.SetDeviceLimit(tc.device)
			var got []byte
			p := make([]byte, 64<<10)
			var err error
			for range 100 {
				var n int
				n, err = c.Read(p)
				got = append(got, p[:n]...)
				if err != nil {
					break
				}
			}
			var de *DeviceError
			if tc.limit == 0 {
				if errors.As(err, &de) || errors.As(c.Err(), &de) {
					t.Fatalf("refused a record the device takes: %v", err)
				}
				// A TLS 1.3 record fails later, in the follower, which has
				// no keys here: past the device's check. The others reach
				// the stack whole.
				if err != io.EOF && !bytes.Equal(tc.head, sh13) {
					t.Fatalf("error %v, want the stream's end", err)
				}
				if err == io.EOF && !bytes.Equal(got, stream) {
					t.Fatalf("handed over %d of %d bytes", len(got), len(stream))
				}
				return
			}
			if !errors.As(err, &de) {
				t.Fatalf("error %v, want a *DeviceError", err)
			}
			if de.Limit != tc.limit || de.Len != len(tc.last)-wire.HeaderLen || de.Type != recordlimit.ContentType(tc.last[0]) {
				t.Fatalf("%+v, want limit %d for the %d-byte record", de, tc.limit, len(tc.last)-wire.HeaderLen)
			}
			if !bytes.Equal(got, tc.head) {
				t.Fatalf("the stack got %d bytes, want the %d before the record", len(got), len(tc.head))
			}
			if len(tap.out) != 0 {
				t.Fatalf("the guard sent % x; a device that cannot hold a record sends nothing", tap.out)
			}
			if st := c.Stats(); st.LargestReceived != de.Len {
				t.Fatalf("largest received %d, want the refused record's %d", st.LargestReceived, de.Len)
			}
			if _, err := c.Read(p); !errors.As(err, &de) {
				t.Fatalf("the next Read: %v", err)
			}
		})
	}
}
