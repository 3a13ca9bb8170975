// Command tlsapp is the tool a device team runs to see how a constrained TLS
// client fares: a client whose cellular modem can only hold small TLS records
// and therefore offers max_fragment_length (RFC 6066) and record_size_limit
// (RFC 8449).
//
// Usage:
//
//	tlsapp demo                        an offline demonstration, nothing to set up
//	tlsapp get [flags] URL             an HTTPS download through the constrained client
//	tlsapp probe [flags] HOST:PORT|URL will a device work with this server?
//	tlsapp serve [flags]               an HTTPS file server with small records
//	tlsapp edge --origin URL [flags]   a caching edge in front of an origin, with small records
//	tlsapp cred import|list|show|rm    manage a credential store directory
//	tlsapp completion bash|zsh         a shell completion script
//	tlsapp man                         the manual page
//	tlsapp help exit-codes             the exit statuses
//
// Every subcommand prints help with -h (or tlsapp help COMMAND), writes a
// report for people by default and JSON with --json, and exits non-zero when
// it fails. A usage error is two lines: what was wrong, and where the help
// is. get and probe exit with curl's number where the failure is curl's (7
// couldn't connect, 28 timeout, 35 TLS handshake, 60 certificate, 22 HTTP
// error, 23 write error, 18 partial file, ...) and with the project's own,
// from 110, for what curl has no word for (110 a record longer than the
// device holds, 111 and 112 probe's verdicts "fails" and "fits only by
// luck"); exitcodes.go holds the table, which the help, the man page and
// the README show.
//
// # demo
//
// demo starts the same Go crypto/tls HTTPS server twice on 127.0.0.1, with a
// throw-away CA made in memory, once alone and once behind tlsapp.NewListener,
// and downloads a 1 MiB image from each over TLS 1.3 with a client that
// offers a 2048-byte record limit and fails, as the device would, on a longer
// record: from crypto/tls alone the download fails with EMSGSIZE, through the
// listener it succeeds, every record within the offer. It reports the largest
// record, the handshake size, the trust anchor that verified the server, the
// throughput and the heap in use.
//
// # get
//
// get downloads a URL with package download over net/http, dialling through the
// tlsapp client. It can fetch the body in Range requests of a fixed size
// (--range-chunk), retry a dropped connection within the run where the body
// stopped (--retry), continue the part a failed run left (--resume; every
// ranged request carries If-Range, and a changed resource starts over or, with
// --no-restart, fails), and verify the size and a SHA-256 (--sha256) before
// the file takes its final name. A body without Content-Length is complete
// only if the server sent close_notify. It takes curl's spellings where the
// meaning is the same (-o/--output, -O, -C -, --retry, -s, -v, -H, -f,
// --cacert, --connect-timeout, -m), registered as other names of its own
// flags (aliasValue), and one-letter flags run together (-fsSL). On a
// terminal a progress line gives the rate and the time left; an
// interruption or a full disk ends with what was kept and what to do.
// --device-limit N makes it fail as a device whose TLS holds N content bytes
// per record fails (EMSGSIZE); with --range-chunk auto it sizes the chunks for
// such a device on one kept-alive connection, downloads the same way, and
// steps the chunk down by 128 bytes from the same offset when a record does
// not fit, as Nordic's download client does.
//
// # probe
//
// probe (flags and printing over package probe) connects to a server in TLS
// 1.2 and 1.3 offering nothing, then each record-size extension at 512, 1024,
// 2048 and 4096 bytes, and reports what the server agreed to and the records
// it sent, its certificate chain, which anchors verify it, the certificate
// compression it used, whether it resumes sessions, the largest Range chunk
// for a device that keeps its own TLS (measured as it downloads, on one
// kept-alive connection), and a verdict for a device limited to
// --device-limit bytes: works (agreed and kept), works (capped without
// answering), fits only by luck, or fails, with the offer to make and, for a
// device that fails, the remedies that leave the server as it is. After a
// failed handshake it says what failed (an expired certificate, an unknown
// authority, an alert).
//
// On get and probe, --trace prints every TLS record as the wire carried it,
// decoded independently of the TLS stack (internal/wiretrace): the time
// since the dial, direction, epoch, type and length, the handshake messages,
// extensions and alerts by name, the protected ones decrypted with the
// session secrets; --trace-format json prints JSON lines. --keylog FILE
// writes the session secrets for Wireshark.
//
// # serve
//
// serve is an HTTPS file server whose records never exceed --max-record
// bytes, nor what the client asked for. It is made to face the public:
// nothing outside --dir is served (symbolic links out of it included), dot
// names are hidden unless --dotfiles, a Range header of more than
// --max-ranges ranges gets the whole file, --max-conns bounds the open
// connections, timeouts cut off slow and idle clients, and every request
// is logged on stderr in one line. Sessions resume (TLS 1.2 and 1.3) with
// tickets small enough for any record limit. Several instances behind a load
// balancer resume each other's sessions when they share a key file
// (--ticket-keys FILE, package ticketkey), which each rereads on SIGHUP and
// when it changes.
//
// # edge
//
// edge (flags and printing over package edge) runs a caching mirror of one
// HTTPS origin for devices that keep their modem's TLS: every record it sends,
// handshake records included, stays within --max-record (2048) bytes, it
// accepts the modem's ECDHE AES-CBC suites, and every device request is
// authorized by the origin with a conditional request before the body comes
// from the cache. It has its own subcommand because its flags (an origin, a
// cache) and serve's (a directory) would exclude each other. Each request is
// logged on stderr as one JSON line; --metrics-addr serves Prometheus metrics.
//
// # cred
//
// cred manages a credential store directory in which CA certificates, client
// certificates and keys are kept under numeric security tags, as on a modem.
//
// # completion, man
//
// completion prints a bash or zsh completion script and man the manual page
// (roff), both made from the commands' FlagSets and help texts: each command
// is run with -h and its FlagSet and texts recorded (cmdHelp), so that the
// help, the completion and the man page cannot disagree.
package main
