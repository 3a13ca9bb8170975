package tlsapp

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"

	utls "github.com/refraction-networking/utls"
)

// BenchmarkSteadyState measures a Write and a Read of the same size through
// an echo server after the handshake, through tlsapp and, as the baseline
// for what utls itself allocates, through a plain utls client.
func BenchmarkSteadyState(b *testing.B) {
	addr := startGoServer(b, &tls.Config{}, echo)
	p := newTestPKI(b)
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, impl := range []string{"tlsapp", "utls"} {
			b.Run(fmt.Sprintf("%s/%dKiB", impl, size>>10), func(b *testing.B) {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				var c io.ReadWriteCloser
				if impl == "tlsapp" {
					tc := Client(raw, &Config{ServerName: "localhost", RootCAs: p.Pool, RecordSizeLimit: 2048})
					if err := tc.Handshake(); err != nil {
						b.Fatal(err)
					}
					c = tc
				} else {
					uc := utls.UClient(raw, &utls.Config{ServerName: "localhost", RootCAs: p.Pool}, utls.HelloGolang)
					if err := uc.Handshake(); err != nil {
						b.Fatal(err)
					}
					c = uc
				}
				defer c.Close()
				buf := make([]byte, size)
				b.SetBytes(int64(2 * size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := c.Write(buf); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
