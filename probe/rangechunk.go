package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tlsapp/tlsapp/internal/httprange"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// Errors of MeasureRange.
var (
	// ErrNoRange: the server does not answer Range requests with 206.
	ErrNoRange = errors.New("probe: the server does not serve byte ranges")
	// ErrNoChunkFits: even the smallest range comes in a record above the
	// device's bound (the response header alone is too large, or the
	// server ignores the chunk size), or the handshake does.
	ErrNoChunkFits = errors.New("probe: no range chunk keeps the records within the device limit")
)

// RangeStep is one stretch of a Range measurement: the requests made with
// one chunk size from Offset on, on one connection.
type RangeStep struct {
	Offset   int64 `json:"offset"`
	Chunk    int   `json:"chunk"`
	Requests int   `json:"requests"`
	// Largest is the largest record received during these requests (the
	// refused one's length when Fits is false), HeaderBytes the longest
	// response header.
	Largest     int    `json:"largest_record"`
	HeaderBytes int    `json:"header_bytes"`
	Fits        bool   `json:"fits"`
	Note        string `json:"note,omitempty"`
}

// RangeResult is what MeasureRange found.
type RangeResult struct {
	// Chunk is the largest Range chunk, at most DeviceLimit, for which
	// every record of the connection stayed within Bound over the part of
	// the resource observed, the last chunk included.
	Chunk       int    `json:"chunk"`
	DeviceLimit int    `json:"device_limit"`
	Bound       int    `json:"bound"`
	Version     string `json:"version"`
	Suite       string `json:"cipher_suite"`
	// Size is the resource's complete length (from Content-Range).
	Size int64 `json:"size"`
	// Observed is how many bytes of the resource, from byte 0, the
	// measurement received in sequential requests; beyond it (and before
	// the last chunk, which is checked for its longer header) nothing is
	// known.
	Observed int64 `json:"observed"`
	// Requests and Connections count what the measurement made: one
	// connection unless a record did not fit (or the server closed).
	Requests    int `json:"requests"`
	Connections int `json:"connections"`
	// HeaderBytes is the longest response header, LargestRecord the
	// largest record received on any of the connections, handshake
	// included.
	HeaderBytes   int         `json:"header_bytes"`
	LargestRecord int         `json:"largest_record"`
	Steps         []RangeStep `json:"steps"`
}

// UnknownBeyond returns the offset from which the measurement saw nothing
// of the resource in sequence, or -1 when it saw it all.
func (r *RangeResult) UnknownBeyond() int64 {
	if r.Observed >= r.Size {
		return -1
	}
	return r.Observed
}

// MeasureRange finds the largest HTTP Range chunk, at most o.DeviceLimit
// bytes, for which a device that keeps its own TLS (it offers no
// record-size extension and fails on a record above o.DeviceLimit content
// bytes, tlsapp.Config.DeviceLimit) can download the resource o.Path the
// way Nordic's download client does: sequential Range requests from byte
// 0 on one kept-alive connection.
//
// It measures on such a connection, with o.Config's trust settings. The
// first request is small (a quarter of the limit) so that the measuring
// connection itself fits; each answer's largest record tells how much
// the chunk may grow (servers such as Go's net/http put the response
// header and the body in one record) less what the header grows by as the
// Content-Range offsets gain digits. It goes on for o.Observe bytes (0:
// EvidenceBytes, past the 128 KiB after which Go's crypto/tls sends larger
// records), then asks for the resource's last chunk, whose header is the
// longest. A record that does not fit ends the connection as it would the
// device's: the chunk shrinks by the excess and the measurement goes on
// from the same offset on a new connection. o.DialTransport, when set,
// dials the connections (labelled "range").
func MeasureRange(ctx context.Context, o Options) (*RangeResult, error) {
	L := o.DeviceLimit
	if L < recordlimit.MinRecordSizeLimit || L > recordlimit.MaxPlaintext {
		return nil, fmt.Errorf("probe: device limit %d is outside %d..%d", L, recordlimit.MinRecordSizeLimit, recordlimit.MaxPlaintext)
	}
	if err := o.defaults(); err != nil {
		return nil, err
	}
	observe := o.Observe
	if observe <= 0 {
		observe = EvidenceBytes
	}
	m := &ranger{o: &o, res: &RangeResult{DeviceLimit: L, Size: -1}}
	defer m.close()
	chunk := max(1, L/4)
	var offset int64
	tail := false // asking for the last chunk, whose header is the longest
	for {
		if err := ctx.Err(); err != nil {
			return m.res, err
		}
		first, last := offset, offset+int64(chunk)-1
		if tail {
			first, last = max(0, m.res.Size-int64(chunk)), m.res.Size-1
		} else if m.res.Size >= 0 {
			last = min(last, m.res.Size-1)
		}
		a, inDial, err := m.get(ctx, first, last)
		if err != nil {
			var dle *tlsapp.DeviceLimitError
			if !errors.As(err, &dle) {
				return m.res, err
			}
			// The device would have failed here: its connection ends.
			m.close()
			m.res.LargestRecord = max(m.res.LargestRecord, dle.Len)
			note := fmt.Sprintf("a %d B %s record, above the %d B the device holds", dle.Len, dle.Type, dle.Limit)
			if inDial {
				note += ", in the handshake"
			}
			m.res.Steps = append(m.res.Steps, RangeStep{Offset: first, Chunk: chunk, Requests: 1, Largest: dle.Len, Note: note})
			if !inDial {
				m.res.Steps[len(m.res.Steps)-1].HeaderBytes = a.header
			}
			next := min(chunk-1, chunk-(dle.Len-dle.Limit))
			if inDial || next < 1 {
				return m.res, fmt.Errorf("%w: %s", ErrNoChunkFits, note)
			}
			chunk, m.res.Chunk = next, 0
			continue
		}
		st := m.step(first, chunk, tail)
		st.Requests++
		st.Largest = max(st.Largest, a.largest)
		st.HeaderBytes = max(st.HeaderBytes, a.header)
		m.res.Chunk = chunk
		if tail {
			st.Note = "the last chunk"
			return m.res, nil
		}
		// The first request, made before the size was known, may have
		// asked for more than there is.
		offset = min(last+1, m.res.Size)
		m.res.Observed = offset
		if offset >= m.res.Size || offset >= observe {
			if last-first+1 == int64(chunk) && offset >= m.res.Size {
				return m.res, nil // the last request was a full last chunk
			}
			tail = true
			continue
		}
		// Grow by what the largest record left, less what the header of
		// this answer grows by until the end: its Content-Range offsets
		// gain digits up to the last byte's, its Content-Length with the
		// chunk.
		end := digits(m.res.Size - 1)
		margin := end - digits(first) + end - digits(last)
		if next := min(L, chunk+m.res.Bound-a.largest-margin); next > chunk {
			next -= digits(int64(next)) - digits(last-first+1)
			chunk = max(chunk, next)
		}
	}
}

func digits(n int64) int { return len(strconv.FormatInt(max(n, 0), 10)) }

// ranger holds the measurement's connection.
type ranger struct {
	o   *Options
	res *RangeResult

	conn *tlsapp.Conn
	br   []byte // bytes read past the last answer
	mu   sync.Mutex
	seen int // largest record received since the last reset
}

// rangeAnswer is a measured 206.
type rangeAnswer struct {
	header  int // the response header's length, once read
	largest int // the largest record received meanwhile
}

func (m *ranger) close() {
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
	m.br = nil
}

// step returns the step a fitting answer for chunk at offset belongs to:
// the last one when it had the same chunk and fitted, a new one otherwise
// and for the last chunk.
func (m *ranger) step(offset int64, chunk int, tail bool) *RangeStep {
	n := len(m.res.Steps)
	if n > 0 && !tail && m.res.Steps[n-1].Chunk == chunk && m.res.Steps[n-1].Fits {
		return &m.res.Steps[n-1]
	}
	m.res.Steps = append(m.res.Steps, RangeStep{Offset: offset, Chunk: chunk, Fits: true})
	return &m.res.Steps[len(m.res.Steps)-1]
}

func (m *ranger) dial(ctx context.Context) error {
	cfg := m.o.Config
	cfg.MaxFragmentLength, cfg.RecordSizeLimit = 0, 0
	cfg.DeviceLimit = m.o.DeviceLimit
	cfg.NextProtos = []string{"http/1.1"}
	next := cfg.Trace
	cfg.Trace = func(r tlsapp.TraceRecord) {
		if next != nil {
			next(r)
		}
		if r.Direction == tlsapp.Received {
			m.mu.Lock()
			m.seen = max(m.seen, r.Len)
			m.mu.Unlock()
		}
	}
	d := tlsapp.Dialer{NetDialer: &net.Dialer{Timeout: m.o.Timeout}, Config: &cfg}
	if m.o.DialTransport != nil {
		d.DialTransport = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return m.o.DialTransport(ctx, "range", network, addr)
		}
	}
	m.mu.Lock()
	m.seen = 0
	m.mu.Unlock()
	c, err := d.DialContext(ctx, "tcp", m.o.Addr)
	m.res.Connections++
	m.mu.Lock()
	m.res.LargestRecord = max(m.res.LargestRecord, m.seen)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.conn = c.(*tlsapp.Conn)
	rs := m.conn.RecordState()
	m.res.Version, m.res.Suite = versionName(rs.Version), suiteName(rs.CipherSuite)
	m.res.Bound = recordBound(rs.Version, rs.CipherSuite, m.o.DeviceLimit)
	return nil
}

// get asks for bytes first..last on the kept-alive connection (dialling
// one when there is none) and reads the 206 whole. inDial reports an error
// of the dial or the handshake.
func (m *ranger) get(ctx context.Context, first, last int64) (a *rangeAnswer, inDial bool, err error) {
	if m.conn == nil {
		if err := m.dial(ctx); err != nil {
			return nil, true, err
		}
	}
	a, err = m.exchange(ctx, first, last)
	return a, false, err
}

// exchange makes one request on the connection.
func (m *ranger) exchange(ctx context.Context, first, last int64) (*rangeAnswer, error) {
	c := m.conn
	deadline := time.Now().Add(m.o.ReadTime)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	c.SetDeadline(deadline)
	m.mu.Lock()
	m.seen = 0
	m.mu.Unlock()
	m.res.Requests++
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n%sRange: bytes=%d-%d\r\n\r\n", m.o.Path, m.o.Host, m.o.header, first, last)
	a := &rangeAnswer{}
	if _, err := io.WriteString(c, req); err != nil {
		return a, err
	}
	hdr, err := m.readHeader(c)
	m.mu.Lock()
	a.largest = m.seen
	m.mu.Unlock()
	if err != nil {
		return a, err
	}
	a.header = len(hdr)
	m.res.HeaderBytes = max(m.res.HeaderBytes, len(hdr))
	status, fields := parseHeader(hdr)
	if status != 206 {
		return a, fmt.Errorf("%w: status %d for bytes=%d-%d", ErrNoRange, status, first, last)
	}
	cr, ok := httprange.Parse(fields["content-range"])
	if !ok || cr.First != first || cr.Last > last || cr.Last < first {
		return a, fmt.Errorf("%w: Content-Range %q for bytes=%d-%d", ErrNoRange, fields["content-range"], first, last)
	}
	if cl, ok := fields["content-length"]; ok && cl != strconv.FormatInt(cr.Last-cr.First+1, 10) {
		return a, fmt.Errorf("%w: Content-Length %s for Content-Range %s", ErrNoRange, cl, fields["content-range"])
	}
	if m.res.Size >= 0 && cr.Complete != m.res.Size {
		return a, fmt.Errorf("probe: the resource's size changed from %d to %d during the measurement", m.res.Size, cr.Complete)
	}
	m.res.Size = cr.Complete
	if err := m.readBody(c, cr.Last-cr.First+1); err != nil {
		return a, err
	}
	m.mu.Lock()
	a.largest = max(a.largest, m.seen)
	m.res.LargestRecord = max(m.res.LargestRecord, m.seen)
	m.mu.Unlock()
	if strings.EqualFold(fields["connection"], "close") {
		m.close() // the server will not take another request on it
	}
	return a, nil
}

// readHeader reads a response header, up to and with its blank line, of at
// most maxHeader bytes however they arrive; bytes read past it stay in m.br
// for the body. A read error counts only once the bytes that came with it
// are looked at. Each byte is searched once or, at the end of a read, up to
// four times.
func (m *ranger) readHeader(c net.Conn) ([]byte, error) {
	buf := m.br
	m.br = nil
	var tmp [4096]byte
	var rerr error
	from := 0 // buf[:from] holds no blank line's first byte
	for {
		if i := bytes.Index(buf[from:], crlfcrlf); i >= 0 && from+i+len(crlfcrlf) <= maxHeader {
			end := from + i + len(crlfcrlf)
			m.br = buf[end:]
			return buf[:end], nil
		}
		from = max(0, len(buf)-len(crlfcrlf)+1)
		if len(buf) >= maxHeader {
			return nil, fmt.Errorf("probe: a response header longer than %d B", maxHeader)
		}
		if rerr != nil {
			return nil, rerr
		}
		n, err := c.Read(tmp[:])
		buf, rerr = append(buf, tmp[:n]...), err
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// readBody reads and drops n body bytes.
func (m *ranger) readBody(c net.Conn, n int64) error {
	have := int64(len(m.br))
	if have >= n {
		m.br = m.br[n:]
		return nil
	}
	m.br = nil
	_, err := io.CopyN(io.Discard, c, n-have)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader returns the status code of a response header and its
// fields (lower-case names; a repeated one keeps its last value).
func parseHeader(h []byte) (int, map[string]string) {
	lines := strings.Split(strings.TrimSuffix(string(h), "\r\n\r\n"), "\r\n")
	status := 0
	if f := strings.Fields(lines[0]); len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/1.") {
		status, _ = strconv.Atoi(f[1])
	}
	fields := map[string]string{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return status, fields
}
