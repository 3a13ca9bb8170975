package bench

import (
	"fmt"
	"testing"
)

// BenchmarkSteadyState measures one Write or one Read of 1 KiB or 16 KiB
// after the handshake, with allocations, against the out-of-process server
// (so that allocs/op counts the client alone): TLS 1.3, AES-128-GCM, with
// 2048-byte records and with 16 KiB records. For reads the server streams
// without pause; for writes it discards.
//
// To see where the allocations are:
//
//	go test -run '^$' -bench 'SteadyState/.*/tlsapp' -memprofile mem.out -memprofilerate 1 ./bench/
//	go tool pprof -sample_index=alloc_objects -top mem.out
func BenchmarkSteadyState(b *testing.B) {
	srv := remoteServer(b)
	for _, dir := range []string{"write", "read"} {
		for _, size := range []int{1 << 10, 16 << 10} {
			for _, limit := range []int{2048, 0} {
				for _, cl := range clients {
					b.Run(fmt.Sprintf("%s/%dKiB/%s/%s", dir, size>>10, limitName(limit), cl.name), func(b *testing.B) {
						o := opts{version: versions[1].v, suite: suites[0].tls13, limit: limit, pool: srv.pool}
						c, _ := connect(b, cl, srv.addrs[limit], o)
						defer c.Close()
						buf := make([]byte, size)
						if dir == "write" {
							if err := request(c, opSink, 0); err != nil {
								b.Fatal(err)
							}
						} else {
							if err := request(c, opStream, int64(size)); err != nil {
								b.Fatal(err)
							}
							// Warm up: the first records grow the stack's buffers.
							if err := readN(c, buf, 64<<10); err != nil {
								b.Fatal(err)
							}
						}
						b.SetBytes(int64(size))
						b.ReportAllocs()
						for b.Loop() {
							var err error
							if dir == "write" {
								_, err = c.Write(buf)
							} else {
								err = readN(c, buf, int64(size))
							}
							if err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		}
	}
}
