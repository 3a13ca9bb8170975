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
//
// Every subcommand prints help with -h, writes a report for people by default
// and JSON with --json, and exits non-zero when it fails: 1 for a failure, 2 for
// a usage error.
//
// # demo
//
// demo starts an HTTPS server on 127.0.0.1 with a throw-away CA made in
// memory, downloads a 1 MiB image from it over TLS 1.3 while offering a
// 2048-byte record limit, checks its SHA-256 and reports the limits offered and
// agreed, the largest record each way, the handshake size, the trust anchor
// that verified the server, the throughput and the heap in use.
//
// # get
//
// get downloads a URL with package download over net/http, dialling through the
// tlsapp client. It can fetch the body in Range requests of a fixed size
// (--range-chunk), resume a partial download after a dropped connection or in a
// later run (--resume; every ranged request carries If-Range, and a changed
// resource starts over or, with --no-restart, fails), and verify the size and a
// SHA-256 (--sha256) before the file takes its final name. A body without
// Content-Length is complete only if the server sent close_notify.
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
package main
