package bench

import (
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// transferSize is what one benchmark op moves.
const transferSize = 4 << 20

// baselines remembers each run's throughput, in MB/s, by its sub-benchmark
// name without the client, for the ratios of the clients after it.
var (
	baselinesMu sync.Mutex
	baselines   = map[string]float64{}
)

func setBaseline(key string, mbps float64) {
	baselinesMu.Lock()
	baselines[key] = mbps
	baselinesMu.Unlock()
}

func baseline(key string) (float64, bool) {
	baselinesMu.Lock()
	defer baselinesMu.Unlock()
	v, ok := baselines[key]
	return v, ok
}

// BenchmarkDownload moves 4 MiB from the in-process server (a crypto/tls
// server behind tlsapp.NewListener, capping its records at the limit) to
// each client, over one connection per run.
func BenchmarkDownload(b *testing.B) { benchTransfer(b, "download") }

// BenchmarkUpload moves 4 MiB from each client to the server in 32 KiB
// writes. Go's server cannot answer record_size_limit, so no client learns
// a limit: tlsapp is held to it with Config.SendRecordLimit and splits each
// write into records of the limit, sent in one transport write; crypto/tls
// and utls have no such setting and are handed writes of the limit's size
// instead, one record (and one transport write) each.
func BenchmarkUpload(b *testing.B) { benchTransfer(b, "upload") }

// benchTransfer runs dir for every version, suite, limit and client. The
// crypto/tls client runs first at each point and limit=none first of all,
// so that each run can report its ratio to them:
//   - ratio-vs-crypto/tls: to crypto/tls with 16 KiB records (limit=none),
//     same version and suite;
//   - ratio-vs-utls: to plain utls at the same limit, the library's own
//     cost over the stack it is built on.
func benchTransfer(b *testing.B, dir string) {
	for _, v := range versions {
		for _, s := range suites {
			suiteID := s.tls12
			if v.v == versions[1].v {
				suiteID = s.tls13
			}
			for _, limit := range limits {
				for _, cl := range clients {
					point := fmt.Sprintf("%s/%s/%s/%s", dir, v.name, s.name, limitName(limit))
					b.Run(fmt.Sprintf("%s/%s/%s/%s", v.name, s.name, limitName(limit), cl.name), func(b *testing.B) {
						o := opts{version: v.v, suite: suiteID, limit: limit, pool: testPKI(b).Pool}
						if why := cl.supports(o); why != "" {
							b.Skip(why)
						}
						mbps := transfer(b, cl, dir, inprocServer(b, limit), o)
						setBaseline(point+"/"+cl.name, mbps)
						if base, ok := baseline(fmt.Sprintf("%s/%s/%s/%s/%s", dir, v.name, s.name, limitName(0), stdClient.name)); ok {
							b.ReportMetric(mbps/base, "ratio-vs-crypto/tls")
						}
						if base, ok := baseline(point + "/" + utlsClient.name); ok && cl.name != utlsClient.name {
							b.ReportMetric(mbps/base, "ratio-vs-utls")
						}
					})
				}
			}
		}
	}
}

// transfer runs b.N transfers of transferSize in direction dir over one
// connection and returns the throughput in MB/s.
func transfer(b *testing.B, cl client, dir, addr string, o opts) float64 {
	c, _ := connect(b, cl, addr, o)
	defer c.Close()
	buf := make([]byte, 64<<10)
	chunk := 32 << 10
	if o.limit > 0 && cl.name != tlsappClient.name {
		chunk = o.limit // the only way to keep these clients' records small
	}
	b.SetBytes(transferSize)
	for b.Loop() {
		if err := op(c, dir, buf, chunk); err != nil {
			b.Fatal(err)
		}
	}
	mbps := float64(transferSize) * float64(b.N) / 1e6 / b.Elapsed().Seconds()
	if tc, ok := c.(*tlsapp.Conn); ok {
		// The record sizes seen, to show the limit was in force.
		st := tc.RecordState()
		b.ReportMetric(float64(st.LargestReceived), "max-record-recv-B")
		b.ReportMetric(float64(st.LargestSent), "max-record-sent-B")
	}
	return mbps
}

func op(c io.ReadWriter, dir string, buf []byte, chunk int) error {
	if dir == "download" {
		if err := request(c, opDownload, transferSize); err != nil {
			return err
		}
		return readN(c, buf[:32<<10], transferSize)
	}
	if err := request(c, opUpload, transferSize); err != nil {
		return err
	}
	if err := writeN(c, buf, transferSize, chunk); err != nil {
		return err
	}
	_, err := io.ReadFull(c, buf[:1])
	return err
}
