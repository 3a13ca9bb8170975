package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/tlsapp"
)

const getHelp = `
Downloads URL over HTTPS with net/http, dialling every connection through the
tlsapp client: the record-size extensions given are offered, honoured and
enforced, and the server certificate is verified (system pool, --ca files or a
credential store). The work is done by package download.

With -o the body goes to FILE.part (its sidecar FILE.part.meta records the URL,
the server's strong validator and the size) and is renamed to FILE only when it
is complete and its size and, with --sha256, its digest are right; FILE is
never written in part. -o DIR saves into DIR under the URL's last path element,
-O into the current directory. Without -o the body goes to stdout and the
summary to stderr. On a terminal a progress line shows the rate and the time
left; -s shows neither it nor the summary, only errors.

Within one run, a connection that drops, resets or stalls (--idle-timeout),
or a server answering 408, 429 or 5xx, is retried: get waits (--backoff,
doubling up to 10s, with jitter) and continues where the body stopped, with
If-Range, giving up after --retry attempts in a row that make no progress
(0: never retry). A failed run keeps FILE.part; --resume (-C -) continues
the FILE.part an earlier run left, if its sidecar shows the same
representation; without it FILE.part is started over. A body without
Content-Length counts as complete only if the server ended it with a TLS
close_notify.

--range-chunk N fetches the body in HTTP Range requests of N bytes, the field
workaround for links that drop long transfers. Every ranged request carries
If-Range with the validator seen first; a resource that changed is fetched
again from byte 0 (--no-restart: fail instead), never spliced.

--device-limit N makes the client fail as a device whose TLS holds at most N
content bytes per record fails (a modem's socket, with EMSGSIZE): any
received record longer than N plus what the cipher suite adds (N alone for a
record in the clear) ends the connection, and the download fails with that
error, whatever was negotiated. It never reports done for a download the
device could not have made.

--range-chunk auto --device-limit N sizes the Range chunks for such a device
that keeps its modem's TLS and cannot negotiate small records, and downloads
as Nordic's download client does: before the download, package probe
(MeasureRange) measures on one kept-alive connection that offers nothing
and fails as the device's would, with sequential Range requests from byte 0,
starting small and growing as the records allow, past the first 128 KiB
(after which Go's crypto/tls sends larger records), and checks the last
chunk, whose response header is the longest; it picks the largest chunk for
which every record stayed within N content bytes. A chunk of N itself does
not fit: servers put the response header and the body in one record. The
download then sends all its Range requests on one kept-alive connection;
when a record does not fit after all, it goes on from the same offset on a
new connection with a chunk 128 bytes smaller (8 below 256), and the
summary gives the chunk it ended with.

--modem makes the client behave like a cellular modem's own TLS (an nRF91's),
to test a server or an edge meant for devices that keep theirs: TLS 1.2 only,
the modem's AES-CBC suites, no record-size extension offered, and any record
longer than --modem-limit bytes on the wire (2303 by default) fails the
download as EMSGSIZE fails the modem's socket.

-H 'NAME: VALUE' adds a header field to every request (a bearer token, a
device ID); give it once per field. Requests name tlsapp and its version as
User-Agent unless -H gives one.

curl's spellings work where the meaning is the same: -o/--output FILE,
-O/--remote-name (-o .), -C -/--continue-at - (--resume), -H/--header,
--retry N
(--retries N), -s/--silent, -v/--verbose (--trace), -f/--fail, -S/--show-error
and -L/--location (always so), --cacert FILE (--ca), --connect-timeout and
-m/--max-time (in seconds, or a duration such as 1m30s), and one-letter flags
run together (-fsSL). get never saves an error page: an HTTP error fails with
curl --fail's status 22. No flag turns certificate verification off.

Exit status: 0 done; curl's number where the failure is curl's (6 host not
found, 7 couldn't connect, 18 partial file, 22 HTTP error, 23 write error,
28 timeout, 35 TLS handshake, 60 certificate); 110 a record longer than the
device holds; 2 usage error; 130 interrupted (SIGINT), the partial file kept.
The whole table: tlsapp help exit-codes.`

// getFlags are get's own flags.
type getFlags struct {
	out               string
	remoteName        bool
	chunk             chunkFlag
	deviceLimit       int
	resume, noRestart bool
	retries           int
	backoff, idle     time.Duration
	maxTime           time.Duration
	sum               string
	progress, silent  bool
	always            bool // -f, -S, -L: curl's, and what get always does
	modem             bool
	modemLimit        int
	header            headerFlag
}

func (g *getFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.out, "o", "", "write the body to `FILE|DIR` (a directory: under the URL's file name; default: stdout)")
	alias(fs, "o", "output")
	fs.BoolVar(&g.remoteName, "O", false, "write the body into the current directory under the URL's file name (-o .)")
	alias(fs, "O", "remote-name")
	fs.Var(&g.chunk, "range-chunk", "fetch the body in Range requests of `N` bytes (0: one request; auto: the largest that keeps every record within --device-limit)")
	fs.IntVar(&g.deviceLimit, "device-limit", 0, "fail as a device that takes records of at most `N` content bytes (64..16384) fails, with EMSGSIZE; with --range-chunk auto, size the chunks for it")
	fs.BoolVar(&g.resume, "resume", false, "continue the partial -o file (FILE.part) an earlier run left")
	aliasWith(fs, "resume", "C", continueFlag{&g.resume}, "-")
	aliasWith(fs, "resume", "continue-at", continueFlag{&g.resume}, "-")
	fs.BoolVar(&g.noRestart, "no-restart", false, "fail, rather than start over, if the resource changes during the download")
	fs.IntVar(&g.retries, "retries", 5, "within this run, give up after `N` failed attempts in a row that make no progress (0: no retry)")
	alias(fs, "retries", "retry")
	fs.DurationVar(&g.backoff, "backoff", 500*time.Millisecond, "the first `DURATION` to wait before a retry (doubles up to 10s, with jitter)")
	fs.StringVar(&g.sum, "sha256", "", "expected SHA-256 of the body, in `HEX`")
	fs.DurationVar(&g.idle, "idle-timeout", 30*time.Second, "give up on an attempt that receives nothing for this `DURATION`")
	fs.Var(durationFlag{&g.maxTime}, "max-time", "stop the whole run after this `DURATION` or number of seconds (status 28; the partial file is kept; default: no bound)")
	alias(fs, "max-time", "m")
	fs.BoolVar(&g.modem, "modem", false, "behave like a cellular modem's TLS: TLS 1.2, AES-CBC suites, no record-size extension, records above --modem-limit fail")
	fs.IntVar(&g.modemLimit, "modem-limit", tlsapp.ModemRecordLimit, "with --modem, the longest record in `N` bytes on the wire the modem holds")
	fs.BoolVar(&g.progress, "progress", true, "show progress on stderr (only on a terminal, never with --json or --silent)")
	fs.BoolVar(&g.silent, "silent", false, "print no progress and no summary, only errors")
	alias(fs, "silent", "s")
	fs.BoolVar(&g.always, "fail", false, "accepted for curl's sake: an HTTP error always fails, with status 22, and no error page is saved")
	alias(fs, "fail", "f")
	fs.BoolVar(&g.always, "show-error", false, "accepted for curl's sake: errors are always shown")
	alias(fs, "show-error", "S")
	fs.BoolVar(&g.always, "location", false, "accepted for curl's sake: redirects to https URLs are always followed (at most 10)")
	alias(fs, "location", "L")
	fs.Var(&g.header, "H", "add the header field `'NAME: VALUE'` to every request (repeatable; not one get sets itself, such as Range)")
	alias(fs, "H", "header")
}

// headerFlag is -H: header fields to send, each checked as it is given.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }
func (f *headerFlag) repeatable()    {}

func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return errors.New("want 'NAME: VALUE'")
	}
	value = strings.Trim(value, " \t")
	one := http.Header{name: {value}}
	if err := download.CheckHeader(one); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "download: "))
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(name, value)
	return nil
}

// continueFlag is curl's -C/--continue-at: only "-", continue where the
// partial file ends, which is --resume.
type continueFlag struct{ resume *bool }

func (c continueFlag) String() string { return "" }

func (c continueFlag) Set(s string) error {
	if s != "-" {
		return errors.New("only '-' (continue where FILE.part ends, as --resume) is supported: get checks that the part is of the same representation, which an offset cannot say")
	}
	*c.resume = true
	return nil
}

// options checks the command line before anything goes on the network and
// returns the URL, the destination ("" for stdout) and the options.
func (g *getFlags) options(pos []string) (string, string, download.Options, error) {
	var opt download.Options
	switch len(pos) {
	case 0:
		return "", "", opt, usagef("no URL given")
	case 1:
	default:
		return "", "", opt, usagef("one URL at a time, not %d: %s", len(pos), strings.Join(pos, " "))
	}
	u, err := url.Parse(pos[0])
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", "", opt, urlErrorf("the URL must be https://HOST[:PORT]/PATH, not %q", pos[0])
	}
	if g.sum != "" {
		if opt.SHA256, err = hex.DecodeString(strings.TrimPrefix(g.sum, "sha256:")); err != nil || len(opt.SHA256) != sha256.Size {
			return "", "", opt, usagef("--sha256 must be 64 hex digits")
		}
	}
	if g.retries < 0 {
		return "", "", opt, usagef("--retries must not be negative")
	}
	if g.chunk.auto && g.deviceLimit == 0 {
		return "", "", opt, usagef("--range-chunk auto needs --device-limit N")
	}
	if g.deviceLimit != 0 && (g.deviceLimit < 64 || g.deviceLimit > 16384) {
		return "", "", opt, usagef("--device-limit must be between 64 and 16384")
	}
	dest := g.out
	if g.remoteName {
		if dest != "" {
			return "", "", opt, usagef("-O saves under the URL's name: give -O or -o, not both")
		}
		dest = "."
	}
	if dest == "-" {
		dest = ""
	}
	if g.resume && dest == "" {
		return "", "", opt, usagef("--resume needs -o FILE")
	}
	if dest != "" {
		if dest, err = destination(dest, u); err != nil {
			return "", "", opt, err
		}
	}
	opt.RangeChunk, opt.Resume, opt.NoRestart, opt.Header = g.chunk.n, g.resume, g.noRestart, g.header.h
	opt.RangeShrink = g.chunk.auto
	opt.Retries, opt.Backoff, opt.IdleTimeout = g.retries, g.backoff, g.idle
	if g.retries == 0 {
		opt.Retries = -1 // download.Options: 0 is its default, 5
	}
	return u.String(), dest, opt, nil
}

// destination resolves -o: a directory gets the URL's last path element;
// the directory the file goes in must exist.
func destination(out string, u *url.URL) (string, error) {
	if st, err := os.Stat(out); (err == nil && st.IsDir()) || strings.HasSuffix(out, string(os.PathSeparator)) {
		name := path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			return "", usagef("-o %s is a directory and the URL has no file name to save under", out)
		}
		out = filepath.Join(out, name)
	}
	dir := filepath.Dir(out)
	if st, err := os.Stat(dir); err != nil {
		return "", usagef("-o %s: %v", out, errors.Unwrap(err))
	} else if !st.IsDir() {
		return "", usagef("-o %s: %s is not a directory", out, dir)
	}
	return out, nil
}

// chunkFlag is --range-chunk: a byte count, or auto.
type chunkFlag struct {
	n    int
	auto bool
}

func (c *chunkFlag) String() string {
	if c.auto {
		return "auto"
	}
	return strconv.Itoa(c.n)
}

func (c *chunkFlag) Set(s string) error {
	if s == "auto" {
		*c = chunkFlag{auto: true}
		return nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return errors.New("want a byte count or auto")
	case n < 0:
		return errors.New("must not be negative (a byte count, or auto)")
	}
	*c = chunkFlag{n: n}
	return nil
}

// getCommand is get's command line, parsed and checked.
type getCommand struct {
	cf   clientFlags
	g    getFlags
	sf   supportFlags
	url  string
	dest string // "" for stdout
	opt  download.Options
}

// parseGet parses get's command line; nothing goes on the network.
func parseGet(e *env, args []string) (*getCommand, error) {
	fs := newFlagSet(e, "get", "[flags] URL", getHelp)
	c := &getCommand{}
	c.cf.register(fs, true)
	c.g.register(fs)
	c.sf.register(fs)
	alias(fs, "trace", "v", "verbose")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if c.url, c.dest, c.opt, err = c.g.options(pos); err != nil {
		return nil, err
	}
	return c, nil
}

func runGet(ctx context.Context, e *env, args []string) error {
	c, err := parseGet(e, args)
	if err != nil {
		return err
	}
	g, cf, opt := &c.g, &c.cf, c.opt
	if g.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, g.maxTime, maxTimeError{g.maxTime})
		defer cancel()
	}
	cfg, err := cf.config(ctx)
	if err != nil {
		return withStatus(err)
	}
	if err := g.modemConfig(cf, cfg); err != nil {
		return err
	}
	sup, err := c.sf.open(e, cfg)
	if err != nil {
		return withStatus(err)
	}
	defer sup.Close()
	cfg.DeviceLimit = g.deviceLimit
	r := newGetReport(e, c.url, c.dest, opt.SHA256)
	r.DeviceLimit, r.silent, r.resume = g.deviceLimit, g.silent, g.resume
	if g.chunk.auto {
		if opt.RangeChunk, err = r.sizeChunks(ctx, c.url, g.deviceLimit, cfg, opt.Header, cf.timeout, sup); err != nil {
			r.fail(ctx, err)
			return r.emit(err)
		}
	}
	opt.Dialer = &tlsapp.Dialer{NetDialer: &net.Dialer{Timeout: cf.timeout}, Config: cfg, DialTransport: sup.numberedDialer()}
	opt.Event = r.event
	if g.progress && !g.silent && !e.json && isTerminal(e.stderr) {
		opt.Progress = r.progress
	}
	r.begin()
	var res *download.Result
	if c.dest == "" {
		res, err = download.Stream(ctx, c.url, e.stdout, opt)
	} else {
		res, err = download.File(ctx, c.url, c.dest, opt)
	}
	r.end(ctx, res, err)
	return r.emit(err)
}

// maxTimeError is the cause of the end of a run that --max-time stopped.
type maxTimeError struct{ d time.Duration }

func (e maxTimeError) Error() string { return fmt.Sprintf("stopped by --max-time %v", e.d) }

// Is makes a run stopped by --max-time a timeout for errors.Is.
func (e maxTimeError) Is(target error) bool { return target == context.DeadlineExceeded }

// modemConfig turns cfg into the modem stand-in's (tlsapp.ModemConfig)
// when --modem is given, keeping its trust settings.
func (g *getFlags) modemConfig(cf *clientFlags, cfg *tlsapp.Config) error {
	if !g.modem {
		if g.modemLimit != tlsapp.ModemRecordLimit {
			return usagef("--modem-limit needs --modem")
		}
		return nil
	}
	if cf.mfl != 0 || cf.rsl != 0 || cf.version != "" {
		return usagef("--modem offers TLS 1.2 and no record-size extension: drop --mfl, --rsl and --tls")
	}
	if g.modemLimit < 64 {
		return usagef("--modem-limit must be at least 64")
	}
	m := tlsapp.ModemConfig(cfg.ServerName)
	cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = m.MinVersion, m.MaxVersion, m.CipherSuites
	cfg.MaxReceivedRecord = g.modemLimit
	return nil
}
