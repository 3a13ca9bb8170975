package bench

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
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
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// The server-cost benchmarks (BenchmarkServerIdle, BenchmarkServerCPU) run
// an HTTPS file server in a process of its own, pinned to one CPU when
// taskset is installed, and measure that process from outside: its heap
// (which it reports), its RSS and peak RSS (/proc/PID/status) and its CPU
// time (/proc/PID/stat). The servers:
//   - crypto/tls: Go's net/http file server on tls.NewListener (16 KiB
//     records), the baseline;
//   - tlsapp: the same server on tlsapp.NewListener with MaxRecord 2048;
//   - nginx: nginx with ssl_buffer_size 2k, skipped when nginx is missing
//     (apt-get install -y nginx-light).
var (
	fleetFlag = flag.Bool("fleet", false, "BenchmarkServerIdle: also 5,000 idle connections (needs ulimit -n above 10,500)")
	// serverProfile, when set, is a directory where the Go servers write a
	// heap profile of their idle connections and a CPU profile of the bulk
	// transfer, named by benchmark.
	serverProfile = flag.String("server.profile", "", "directory for the server processes' heap and CPU profiles")
	bulkMiB       = flag.Int("server.bulk", 2048, "BenchmarkServerCPU: MiB each server serves per op")
)

const (
	httpServerEnv = "TLSAPP_BENCH_HTTPS" // kind of server the process runs
	serverCap     = 2048                 // tlsapp's MaxRecord; nginx's ssl_buffer_size
	idleDownload  = 256 << 10            // what each idle connection downloaded first
	bulkFile      = 64 << 20             // the file BenchmarkServerCPU's clients fetch
	bulkConns     = 4                    // connections fetching it at once
)

// serverKinds are the servers compared, the baseline first.
var serverKinds = []string{"crypto/tls", "nginx", "tlsapp"}

// BenchmarkServerIdle opens N connections at once (TLS 1.2 or 1.3,
// crypto/tls clients in this process, no resumption), has each download a
// 256 KiB file concurrently over HTTP/1.1, leaves them open and idle, and
// reports the server process's cost per connection:
//   - heap-B/conn: heap after two GCs (MemStats.HeapAlloc), less the same
//     before the connections, over N (Go servers only);
//   - rss-B/conn: VmRSS less VmRSS before the connections, over N;
//   - rss-freed-B/conn: the same after debug.FreeOSMemory (Go servers; for
//     nginx, its RSS);
//   - peak-rss-B/conn: VmHWM less VmRSS before the connections, over N;
//   - heap-over-crypto/tls-B/conn, rss-ratio-vs-crypto/tls,
//     rss-ratio-vs-nginx and rss-freed-ratio-vs-nginx (rss-freed over
//     nginx's rss) against the servers measured before it in the same run.
//
// N is 1,000, and also 5,000 with -fleet. With -server.profile DIR the Go
// servers write heap profiles of the idle state there.
func BenchmarkServerIdle(b *testing.B) {
	counts := []int{1000}
	if *fleetFlag {
		counts = append(counts, 5000)
	}
	for _, v := range versions {
		for _, n := range counts {
			base := map[string]idleCost{}
			for _, kind := range serverKinds {
				b.Run(fmt.Sprintf("%s/conns=%d/server=%s", v.name, n, kind), func(b *testing.B) {
					var sum idleCost
					for b.Loop() {
						c := idleRun(b, kind, v.v, n)
						sum.heap += c.heap
						sum.rss += c.rss
						sum.freed += c.freed
						sum.peak += c.peak
					}
					c := idleCost{heap: sum.heap / float64(b.N), rss: sum.rss / float64(b.N),
						freed: sum.freed / float64(b.N), peak: sum.peak / float64(b.N), goHeap: kind != "nginx"}
					base[kind] = c
					if c.goHeap {
						b.ReportMetric(c.heap, "heap-B/conn")
					}
					b.ReportMetric(c.rss, "rss-B/conn")
					b.ReportMetric(c.freed, "rss-freed-B/conn")
					b.ReportMetric(c.peak, "peak-rss-B/conn")
					if std, ok := base["crypto/tls"]; ok && kind != "crypto/tls" {
						if c.goHeap {
							b.ReportMetric(c.heap-std.heap, "heap-over-crypto/tls-B/conn")
						}
						b.ReportMetric(c.rss/std.rss, "rss-ratio-vs-crypto/tls")
					}
					if ng, ok := base["nginx"]; ok && kind != "nginx" {
						b.ReportMetric(c.rss/ng.rss, "rss-ratio-vs-nginx")
						b.ReportMetric(c.freed/ng.rss, "rss-freed-ratio-vs-nginx")
					}
				})
			}
		}
	}
}

// idleCost is what one idle connection costs the server, in bytes.
type idleCost struct {
	heap, rss, freed, peak float64
	goHeap                 bool
}

func idleRun(b *testing.B, kind string, version uint16, n int) idleCost {
	b.StopTimer()
	defer b.StartTimer()
	needFiles(b, 2*n+500)
	s := startFileServer(b, kind)
	defer s.stop()
	heap0 := s.heap(b)
	rss0, _ := s.rss(b)

	// Handshake every connection first, then download on all at once, so
	// that the peak is that of N concurrent downloads.
	pool := testPKI(b).Pool
	conns := make([]*tls.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	dialing := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dialing <- struct{}{}
			defer func() { <-dialing }()
			c, err := dialServer(s.addr, version, 0, pool)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.StartTimer()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := get(c, "/idle.bin", idleDownload); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	time.Sleep(500 * time.Millisecond) // every handler returns to reading the next request

	var c idleCost
	c.heap = (s.heap(b) - heap0) / float64(n)
	rss, peak := s.rss(b)
	c.rss = (rss - rss0) / float64(n)
	c.peak = (peak - rss0) / float64(n)
	if *serverProfile != "" && s.kind != "nginx" {
		s.command(b, "heapprofile "+profilePath(b, "heap"))
	}
	c.freed = c.rss
	if s.kind != "nginx" {
		s.command(b, "free")
		rss, _ = s.rss(b)
		c.freed = (rss - rss0) / float64(n)
	}
	for _, c := range conns {
		c.Close()
	}
	return c
}

// BenchmarkServerCPU measures the CPU time (user and system, from
// /proc/PID/stat) each server process spends per GiB it serves, in TLS 1.2
// and 1.3 with AES-128-GCM, and in TLS 1.2 with AES-128-CBC-SHA. The three
// servers run at once, pinned to the same CPU, and serve in turn, 256 MiB
// at a time (4 clients fetching a 64 MiB file at once, each on a
// connection of its own, Connection: close), in an order that rotates,
// until each has served -server.bulk MiB (2 GiB): on a shared machine,
// whatever else runs weighs on all three alike. The clients (crypto/tls, in
// this process) run the handshake and send the request, then read the
// response's records off the socket without decrypting them, so that the
// server is the bottleneck. Per op it reports, for each server S,
// S-cpu-s/GiB and S-MB/s, and tlsapp's and nginx's CPU per GiB over
// crypto/tls's and tlsapp's over nginx's, all from the same op. With
// -server.profile DIR the Go servers write a CPU profile there.
func BenchmarkServerCPU(b *testing.B) {
	pool := testPKI(b).Pool
	for _, v := range cpuPoints {
		b.Run(v.name, func(b *testing.B) {
			var kinds []string
			servers := map[string]*fileServer{}
			for _, kind := range serverKinds {
				if kind == "nginx" && nginxPath() == "" {
					b.Logf("no nginx row: apt-get install -y nginx-light")
					continue
				}
				s := startFileServer(b, kind)
				defer s.stop()
				c, err := dialServer(s.addr, v.version, v.suite, pool)
				if err != nil {
					b.Fatal(err)
				}
				st := c.ConnectionState()
				b.Logf("%s: %s %s", kind, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
				if v.suite != 0 && st.CipherSuite != v.suite {
					b.Fatalf("%s negotiated %s", kind, tls.CipherSuiteName(st.CipherSuite))
				}
				if err := get(c, "/idle.bin", idleDownload); err != nil {
					b.Fatal(err)
				}
				c.Close()
				kinds = append(kinds, kind)
				servers[kind] = s
				if *serverProfile != "" && kind != "nginx" {
					s.command(b, "cpuprofile "+profilePath(b, strings.ReplaceAll(kind, "/", "_")+".cpu"))
					defer s.command(b, "cpustop")
				}
			}
			const chunk = bulkFile * bulkConns
			rounds := int(max(1, (int64(*bulkMiB)<<20)/chunk))
			cpu := map[string]float64{}
			wall := map[string]time.Duration{}
			for b.Loop() {
				for round := range rounds {
					for i := range kinds {
						kind := kinds[(round+i)%len(kinds)]
						s := servers[kind]
						before, start := s.cpu(b), time.Now()
						if err := serveChunk(s.addr, v.version, v.suite, pool); err != nil {
							b.Fatal(err)
						}
						wall[kind] += time.Since(start)
						cpu[kind] += s.cpu(b) - before
					}
				}
			}
			gib := float64(b.N) * float64(rounds*chunk) / (1 << 30)
			for _, kind := range kinds {
				b.ReportMetric(cpu[kind]/gib, kind+"-cpu-s/GiB")
				b.ReportMetric(gib*(1<<30)/1e6/wall[kind].Seconds(), kind+"-MB/s")
			}
			std, ng, app := cpu["crypto/tls"], cpu["nginx"], cpu["tlsapp"]
			if std > 0 {
				b.ReportMetric(app/std, "tlsapp-cpu-ratio-vs-crypto/tls")
				if ng > 0 {
					b.ReportMetric(ng/std, "nginx-cpu-ratio-vs-crypto/tls")
				}
			}
			if ng > 0 {
				b.ReportMetric(app/ng, "tlsapp-cpu-ratio-vs-nginx")
			}
		})
	}
}

// cpuPoints are the protocol versions and suites BenchmarkServerCPU
// measures: AES-128-GCM in TLS 1.2 and 1.3 (what the clients pick), and
// ECDHE-ECDSA-AES128-SHA, the CBC suite every nRF91 modem firmware offers.
var cpuPoints = []struct {
	name    string
	version uint16
	suite   uint16 // 0: the client's choice
}{
	{"tls12", tls.VersionTLS12, 0},
	{"tls12-cbc", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
	{"tls13", tls.VersionTLS13, 0},
}

// serveChunk has bulkConns clients fetch the bulk file from addr at once.
func serveChunk(addr string, version, suite uint16, pool *x509.CertPool) error {
	errs := make(chan error, bulkConns)
	for range bulkConns {
		go func() { errs <- getRaw(addr, version, suite, pool, "/bulk.bin", bulkFile) }()
	}
	var first error
	for range bulkConns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// getRaw fetches path on a connection of its own and reads the response off
// the socket without decrypting it, until the server closes the
// connection; the records must carry at least n bytes.
func getRaw(addr string, version, suite uint16, pool *x509.CertPool, path string, n int64) error {
	raw, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Minute))
	c := tls.Client(raw, clientConfig(version, suite, pool))
	if err := c.Handshake(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path); err != nil {
		return err
	}
	got, err := io.CopyBuffer(io.Discard, raw, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	if got < n {
		return fmt.Errorf("GET %s: %d bytes on the wire, want at least %d", path, got, n)
	}
	return nil
}

func profilePath(b *testing.B, what string) string {
	name := strings.NewReplacer("/", "_", "=", "-").Replace(b.Name())
	return filepath.Join(*serverProfile, name+"."+what+".pprof")
}

// needFiles skips the benchmark when the open-file limit is below n.
func needFiles(b *testing.B, n int) {
	out, err := exec.Command("sh", "-c", "ulimit -n").Output()
	if err != nil {
		return
	}
	lim, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err == nil && lim < n {
		b.Skipf("ulimit -n is %d; %d connections need %d (run ulimit -n %d first)", lim, n/2, n, n)
	}
}

// clientConfig is the benchmark clients' configuration: version, and suite
// when not 0.
func clientConfig(version, suite uint16, pool *x509.CertPool) *tls.Config {
	cfg := &tls.Config{ServerName: "localhost", RootCAs: pool, MinVersion: version, MaxVersion: version, NextProtos: []string{"http/1.1"}}
	if suite != 0 {
		cfg.CipherSuites = []uint16{suite}
	}
	return cfg
}

// dialServer makes a crypto/tls client connection to addr, handshake done.
func dialServer(addr string, version, suite uint16, pool *x509.CertPool) (*tls.Conn, error) {
	raw, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	raw.SetDeadline(time.Now().Add(10 * time.Minute))
	c := tls.Client(raw, clientConfig(version, suite, pool))
	if err := c.Handshake(); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// get fetches path over c (HTTP/1.1, kept alive) and checks that the body
// is n bytes.
func get(c *tls.Conn, path string, n int64) error {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	got, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || got != n {
		return fmt.Errorf("GET %s: %s, %d bytes, want %d", path, resp.Status, got, n)
	}
	if br.Buffered() > 0 {
		return errors.New("bytes after the response")
	}
	return nil
}

// fileServer is a server process of the server-cost benchmarks: a Go file
// server (commands on its stdin, answers on its stdout) or nginx.
type fileServer struct {
	kind  string
	addr  string
	pid   int
	cmd   *exec.Cmd
	stdin io.WriteCloser // Go servers: commands
	out   *bufio.Scanner // Go servers: answers
	dir   string
}

var (
	serverFilesOnce sync.Once
	serverFilesDir  string
	serverFilesErr  error
)

// serverFiles writes, once per test binary, the servers' certificate chain
// and key and the files they serve: idle.bin (256 KiB) and bulk.bin
// (64 MiB).
func serverFiles(b *testing.B) string {
	serverFilesOnce.Do(func() {
		p := testPKI(b)
		dir, err := os.MkdirTemp("", "tlsapp-bench-server")
		if err != nil {
			serverFilesErr = err
			return
		}
		serverFilesDir = dir
		for name, data := range map[string][]byte{"chain.pem": p.ChainPEM, "key.pem": p.KeyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				serverFilesErr = err
				return
			}
		}
		www := filepath.Join(dir, "www")
		os.Mkdir(www, 0o755)
		for name, size := range map[string]int{"idle.bin": idleDownload, "bulk.bin": bulkFile} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			if err := os.WriteFile(filepath.Join(www, name), data, 0o644); err != nil {
				serverFilesErr = err
				return
			}
		}
	})
	if serverFilesErr != nil {
		b.Fatal(serverFilesErr)
	}
	return serverFilesDir
}

// removeServerFiles removes what serverFiles wrote, if anything.
func removeServerFiles() {
	if serverFilesDir != "" {
		os.RemoveAll(serverFilesDir)
	}
}

// pinned returns the command that runs name pinned to the last CPU, when
// taskset is installed and there are at least two CPUs.
func pinned(name string, args ...string) *exec.Cmd {
	if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		return exec.Command(ts, append([]string{"-c", strconv.Itoa(runtime.NumCPU() - 1), name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startFileServer(b *testing.B, kind string) *fileServer {
	dir := serverFiles(b)
	if kind == "nginx" {
		return startFileNginx(b, dir)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := pinned(exe)
	cmd.Env = append(os.Environ(), httpServerEnv+"="+kind, "TLSAPP_BENCH_DIR="+dir)
	if *serverProfile != "" && strings.HasPrefix(b.Name(), "BenchmarkServerIdle") {
		cmd.Env = append(cmd.Env, "TLSAPP_BENCH_PROFILE=1")
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &fileServer{kind: kind, pid: cmd.Process.Pid, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !s.out.Scan() {
		s.stop()
		b.Fatalf("%s server exited before it was ready", kind)
	}
	s.addr = strings.TrimPrefix(s.out.Text(), "addr ")
	return s
}

// nginxConf is nginx's configuration: one process, files from www, records
// of at most 2048 bytes of application data (ssl_buffer_size 2k).
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 30000;
error_log stderr error;
pid %[1]s/nginx.pid;
events { worker_connections 20000; }
http {
	access_log off;
	client_body_temp_path %[1]s/tmp;
	proxy_temp_path %[1]s/tmp;
	fastcgi_temp_path %[1]s/tmp;
	uwsgi_temp_path %[1]s/tmp;
	scgi_temp_path %[1]s/tmp;
	keepalive_timeout 3600s;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:%[2]d ssl backlog=4096;
		ssl_certificate %[3]s/chain.pem;
		ssl_certificate_key %[3]s/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_buffer_size 2k;
		ssl_session_cache off;
		root %[3]s/www;
	}
}
`

// nginxPath returns the path of nginx, or "" when it is not installed.
func nginxPath() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx" // not on a non-root PATH
	}
	return ""
}

func startFileNginx(b *testing.B, files string) *fileServer {
	nginx := nginxPath()
	if nginx == "" {
		b.Skip("nginx is not installed: apt-get install -y nginx-light")
	}
	dir := b.TempDir()
	os.Mkdir(filepath.Join(dir, "tmp"), 0o700)
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port, files), 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := pinned(nginx, "-e", "stderr", "-p", dir, "-c", conf)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		s := &fileServer{kind: "nginx", pid: cmd.Process.Pid, cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
		for range 100 {
			if c, err := net.Dial("tcp", s.addr); err == nil {
				c.Close()
				return s
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.stop()
	}
	b.Fatal("nginx did not start")
	return nil
}

func (s *fileServer) stop() {
	if s.stdin != nil {
		s.stdin.Close()
	} else {
		s.cmd.Process.Kill()
	}
	s.cmd.Wait()
}

// command sends a command to a Go server and returns its answer.
func (s *fileServer) command(b *testing.B, cmd string) string {
	if _, err := fmt.Fprintln(s.stdin, cmd); err != nil {
		b.Fatal(err)
	}
	if !s.out.Scan() {
		b.Fatalf("%s server: no answer to %q", s.kind, cmd)
	}
	ans := s.out.Text()
	if strings.HasPrefix(ans, "error ") {
		b.Fatalf("%s server: %s: %s", s.kind, cmd, ans)
	}
	return ans
}

// heap returns a Go server's heap after two GCs, in bytes; 0 for nginx.
func (s *fileServer) heap(b *testing.B) float64 {
	if s.kind == "nginx" {
		return 0
	}
	ans := s.command(b, "heap")
	if testing.Verbose() {
		b.Logf("%s: %s", s.kind, ans) // heap: HeapAlloc HeapInuse StackInuse HeapIdle-HeapReleased goroutines
	}
	v, err := strconv.ParseFloat(strings.Fields(ans)[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// rss returns the process's VmRSS and VmHWM, in bytes.
func (s *fileServer) rss(b *testing.B) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			rss = kb * 1024
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			hwm = kb * 1024
		}
	}
	return rss, hwm
}

// cpu returns the process's user and system CPU time, in seconds.
func (s *fileServer) cpu(b *testing.B) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which ends with the last ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTicks = 100

// httpServerMain is the server process of the server-cost benchmarks:
// Go's net/http file server over crypto/tls or tlsapp. It prints its
// address, then answers commands on stdin until stdin closes: heap (heap
// after two GCs), free (debug.FreeOSMemory), heapprofile PATH, cpuprofile
// PATH, cpustop. With -server.profile, for BenchmarkServerIdle, it
// profiles every allocation (MemProfileRate 1), which slows it down.
func httpServerMain(kind string) {
	if os.Getenv("TLSAPP_BENCH_PROFILE") != "" {
		runtime.MemProfileRate = 1 // every allocation in the heap profile
	}
	dir := os.Getenv("TLSAPP_BENCH_DIR")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "chain.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	var ln net.Listener
	switch kind {
	case "crypto/tls":
		ln = tls.NewListener(inner, cfg)
	case "tlsapp":
		ln = tlsapp.NewListener(inner, cfg, tlsapp.ServerOptions{MaxRecord: serverCap})
	default:
		log.Fatalf("unknown server %q", kind)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Join(dir, "www"))), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	fmt.Printf("addr %s\n", inner.Addr())
	sc := bufio.NewScanner(os.Stdin)
	var cpuFile *os.File
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "heap":
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("heap %d %d %d %d %d\n", ms.HeapAlloc, ms.HeapInuse, ms.StackInuse, ms.HeapIdle-ms.HeapReleased, runtime.NumGoroutine())
		case "free":
			debug.FreeOSMemory()
			fmt.Println("ok")
		case "heapprofile":
			runtime.GC()
			f, err := os.Create(arg)
			if err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			answer(err)
		case "cpuprofile":
			f, err := os.Create(arg)
			if err == nil {
				if err = pprof.StartCPUProfile(f); err == nil {
					cpuFile = f
				}
			}
			answer(err)
		case "cpustop":
			pprof.StopCPUProfile()
			if cpuFile != nil {
				cpuFile.Close()
			}
			fmt.Println("ok")
		default:
			fmt.Printf("error unknown command %q\n", cmd)
		}
	}
}

func answer(err error) {
	if err != nil {
		fmt.Printf("error %v\n", err)
		return
	}
	fmt.Println("ok")
}
