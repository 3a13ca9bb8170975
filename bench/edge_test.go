package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/tlsapp"
)

var (
	edgeFlag    = flag.Bool("edge", false, "BenchmarkEdge: run the edge against nginx and plain crypto/tls (needs nginx-light; minutes)")
	edgeDevices = flag.String("edge.devices", "100,1000", "BenchmarkEdge: the numbers of devices, comma-separated")
)

// edgeImage is the image every device downloads.
const edgeImage = 1 << 20

// edgeServers are the servers BenchmarkEdge compares, in its table's order.
var edgeServers = []string{"edge", "edge-maxage", "nginx", "crypto-tls"}

// BenchmarkEdge: N devices (100 and 1,000) at once, each downloading a
// 1 MiB image that is already cached over a fresh TLS 1.2 connection as
// the modem stand-in does (tlsapp.ModemConfig: the modem's AES-CBC
// suites, no extension), from each server in turn, each server a process
// of its own with the tests' 3.6 KB RSA 4096 chain:
//
//   - edge: tlsapp edge in front of an origin (Go's crypto/tls, 16 KiB
//     records), which authorizes every request with a conditional request
//     to the origin;
//   - edge-maxage: the same with --cache-only-within-max-age (the origin
//     sends max-age=3600): no origin request, as nginx;
//   - nginx: nginx-light with proxy_cache (proxy_cache_lock, 10 minutes
//     valid), ssl_buffer_size 2k, TLSv1.2 TLSv1.3, the same suites;
//   - crypto-tls: Go's net/http on plain crypto/tls serving the image from
//     memory, the baseline (no cap: 16 KiB records).
//
// Per run: the total time (ns/op), the server's CPU seconds per GiB served
// (user+system of its processes, from /proc), its RSS growth per device
// (peak during the run less before, over N), the largest record the
// devices received (handshake included; their limit is lifted so that
// nginx's downloads complete), the largest server record a relay saw for
// one download by the real stand-in (2303 B limit), and whether that
// download worked (modem-ok 1, or 0: EMSGSIZE). The devices run in the
// benchmark's process on the same machine: total time includes their CPU.
//
//	go test -run '^$' -bench Edge -benchtime 1x -timeout 0 ./bench/ -edge
func BenchmarkEdge(b *testing.B) {
	if !*edgeFlag {
		b.Skip("run with -edge (needs nginx-light)")
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		b.Fatal("nginx is not installed: apt-get install -y nginx-light")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	pkiDir := filepath.Join(root, "edge", "testdata", "pki")
	work := b.TempDir()
	bin := filepath.Join(work, "tlsapp")
	plain := filepath.Join(work, "plainserve")
	for out, pkg := range map[string]string{bin: "./cmd/tlsapp", plain: "./bench/internal/plainserve"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, o)
		}
	}
	image := make([]byte, edgeImage)
	rand.Read(image)
	imageFile := filepath.Join(work, "image.bin")
	os.WriteFile(imageFile, image, 0o644)
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "chain.pem"), filepath.Join(pkiDir, "key.pem"))
	if err != nil {
		b.Fatal(err)
	}
	rootPEM, _ := os.ReadFile(filepath.Join(pkiDir, "root.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	origin := edgeOrigin(b, cert, image)

	servers := map[string]*serverProc{}
	for _, name := range edgeServers {
		var p *serverProc
		switch name {
		case "edge", "edge-maxage":
			args := []string{"edge", "--origin", origin, "--origin-ca", filepath.Join(pkiDir, "root.pem"),
				"--cache-dir", filepath.Join(work, name+"-cache"), "--addr", "127.0.0.1:0",
				"--cert", filepath.Join(pkiDir, "chain.pem"), "--key", filepath.Join(pkiDir, "key.pem"), "--max-conns", "4096",
				// 1,000 RSA 4096 handshakes at once take the two cores
				// longer than serve's 10 s: nginx allows 60 s.
				"--read-header-timeout", "60s"}
			if name == "edge-maxage" {
				args = append(args, "--cache-only-within-max-age")
			}
			p = startProc(b, bin, args, func(line string) string { return strings.TrimSuffix(strings.Fields(line)[1][len("https://"):], "/") })
		case "nginx":
			p = startNginx(b, nginx, filepath.Join(work, "nginx"), pkiDir, origin)
		case "crypto-tls":
			p = startProc(b, plain, []string{"-cert", filepath.Join(pkiDir, "chain.pem"), "-key", filepath.Join(pkiDir, "key.pem"), "-file", imageFile},
				strings.TrimSpace)
		}
		servers[name] = p
		// Warm the cache, then what one real stand-in sees on the wire.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, _, err := edgeDownload(ctx, p.addr, pool, 0)
		cancel()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(work, "nginx", "error.log"))
			b.Fatalf("%s: warming: %v\n%s", name, err, log)
		}
		p.wire, p.modemOK = standInOnce(b, p.addr, pool)
		b.Logf("%s on %s: the stand-in's download works %v, largest server record %d B", name, p.addr, p.modemOK, p.wire)
	}
	for _, f := range strings.Split(*edgeDevices, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			b.Fatalf("-edge.devices: %q", f)
		}
		for _, name := range edgeServers {
			p := servers[name]
			b.Run(fmt.Sprintf("devices=%d/server=%s", n, name), func(b *testing.B) {
				var last edgeRun
				for range b.N {
					r, err := p.run(n, pool)
					if err != nil {
						b.Fatal(err)
					}
					last = r
				}
				b.ReportMetric(last.cpu/(float64(n)*edgeImage/(1<<30)), "cpu-s/GiB")
				b.ReportMetric(float64(max(last.peakRSS-last.baseRSS, 0))/1024/float64(n), "rss-KiB/conn")
				b.ReportMetric(float64(last.largest), "largest-B")
				b.ReportMetric(float64(p.wire), "wire-largest-B")
				modem := 0.0
				if p.modemOK {
					modem = 1
				}
				b.ReportMetric(modem, "modem-ok")
			})
		}
	}
}

// edgeOrigin serves image at /fw/image.bin over Go's crypto/tls with 16
// KiB records, a strong ETag and max-age=3600, in this process.
func edgeOrigin(b *testing.B, cert tls.Certificate, image []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	mod := time.Now()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"img-1"`)
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeContent(w, r, "image.bin", mod, strings.NewReader(string(image)))
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, DynamicRecordSizingDisabled: true}))
	b.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// serverProc is a server under test: its process (and, for nginx, the
// master whose children are counted too).
type serverProc struct {
	addr    string
	pid     int
	wire    int  // the largest server record the relay saw for the stand-in
	modemOK bool // the stand-in's download worked
}

// startProc starts a server that prints something its address can be
// read from as its first line.
func startProc(b *testing.B, bin string, args []string, addrOf func(string) string) *serverProc {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	if err != nil {
		b.Fatalf("%s: %v", bin, err)
	}
	go io.Copy(io.Discard, br)
	return &serverProc{addr: addrOf(line), pid: cmd.Process.Pid}
}

// startNginx runs nginx-light as the issue measured it: proxy_cache in
// front of the origin, ssl_buffer_size 2k, TLS 1.2 and 1.3, the same
// chain and the suites an edge accepts; two workers, as GOMAXPROCS gives
// the Go servers two threads.
func startNginx(b *testing.B, nginx, prefix, pkiDir, origin string) *serverProc {
	os.MkdirAll(filepath.Join(prefix, "cache"), 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`worker_processes 2;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  proxy_cache_path %[1]s/cache levels=1:2 keys_zone=fw:10m max_size=1g inactive=60m use_temp_path=off;
  server {
    listen %[2]s ssl;
    ssl_certificate %[3]s/chain.pem;
    ssl_certificate_key %[3]s/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256;
    ssl_buffer_size 2k;
    location / {
      proxy_pass %[4]s;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate %[3]s/root.pem;
      proxy_ssl_name localhost;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache fw;
      proxy_cache_valid 200 10m;
      proxy_cache_lock on;
    }
  }
}
`, prefix, addr, pkiDir, origin)
	confFile := filepath.Join(prefix, "nginx.conf")
	os.WriteFile(confFile, []byte(conf), 0o644)
	cmd := exec.Command(nginx, "-p", prefix, "-e", filepath.Join(prefix, "error.log"), "-c", confFile, "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// SIGTERM makes the master stop its workers; SIGKILL would leave them.
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			b.Fatalf("nginx did not start:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &serverProc{addr: addr, pid: cmd.Process.Pid}
}

// edgeRun is what one run of N devices measured.
type edgeRun struct {
	cpu              float64 // server CPU seconds
	baseRSS, peakRSS int64   // bytes
	largest          int
}

// run downloads the image with n devices at once.
func (p *serverProc) run(n int, pool *x509.CertPool) (edgeRun, error) {
	var r edgeRun
	cpu0 := procCPU(p.pid)
	r.baseRSS = procRSS(p.pid)
	stop := make(chan struct{})
	var peak atomic.Int64
	peak.Store(r.baseRSS)
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if v := procRSS(p.pid); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, largest, err := edgeDownload(ctx, p.addr, pool, 0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			r.largest = max(r.largest, largest)
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	sampler.Wait()
	r.cpu = procCPU(p.pid) - cpu0
	r.peakRSS = peak.Load()
	return r, firstErr
}

// edgeDownload downloads the image over a fresh connection as the modem
// stand-in does, with its receive limit set to limit (0: none), and
// returns the bytes and the largest record received.
func edgeDownload(ctx context.Context, addr string, pool *x509.CertPool, limit int) (int64, int, error) {
	cfg := tlsapp.ModemConfig("127.0.0.1")
	cfg.RootCAs = pool
	cfg.MaxReceivedRecord = limit
	c, err := (&tlsapp.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	conn := c.(*tlsapp.Conn)
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if _, err := io.WriteString(conn, "GET /fw/image.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 32<<10), nil)
	if err != nil {
		return 0, conn.RecordState().LargestReceived, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	largest := conn.RecordState().LargestReceived
	if err == nil && (resp.StatusCode != 200 || n != edgeImage) {
		err = fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
	}
	return n, largest, err
}

// standInOnce downloads once with the real stand-in (2303 B limit)
// through a relay that parses the server's records, and returns the
// largest one and whether the download worked.
func standInOnce(b *testing.B, addr string, pool *x509.CertPool) (int, bool) {
	var mu sync.Mutex
	largest := 0
	relay := testnet.Relay(b, addr, time.Minute, func(client, server net.Conn) {
		go func() { io.Copy(server, client); server.Close() }()
		hdr := make([]byte, 5)
		body := make([]byte, 1<<16)
		for {
			if _, err := io.ReadFull(server, hdr); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(hdr[3:]))
			if _, err := io.ReadFull(server, body[:n]); err != nil {
				return
			}
			mu.Lock()
			largest = max(largest, n)
			mu.Unlock()
			if _, err := client.Write(append(hdr[:5:5], body[:n]...)); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err := edgeDownload(ctx, relay, pool, tlsapp.ModemRecordLimit)
	if err != nil && !errors.Is(err, tlsapp.ErrDeviceLimit) {
		b.Fatalf("stand-in through %s: %v", addr, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return largest, err == nil
}

// procTree returns pid and its children's pids.
func procTree(pid int) []int {
	pids := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(child); len(f) > 2 && f[2] == strconv.Itoa(pid) { // ppid
			pids = append(pids, child)
		}
	}
	return pids
}

// procStat returns the fields of /proc/PID/stat without the command
// name: [0] is the pid, and proc(5)'s field k from 3 on is [k-2].
func procStat(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{strings.Fields(s[:i])[0]}, strings.Fields(s[i+1:])...)
}

// procCPU is the user and system CPU seconds of pid and its children.
func procCPU(pid int) float64 {
	var ticks int64
	for _, p := range procTree(pid) {
		f := procStat(p)
		if len(f) < 15 {
			continue
		}
		u, _ := strconv.ParseInt(f[12], 10, 64) // utime
		s, _ := strconv.ParseInt(f[13], 10, 64) // stime
		ticks += u + s
	}
	return float64(ticks) / 100 // USER_HZ
}

// procRSS is the resident set of pid and its children, in bytes.
func procRSS(pid int) int64 {
	var total int64
	for _, p := range procTree(pid) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
