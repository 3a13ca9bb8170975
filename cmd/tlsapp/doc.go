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
//
// # probe
//
// probe (flags and printing over package probe) connects to a server in TLS
// 1.2 and 1.3 offering nothing, then each record-size extension at 512, 1024,
// 2048 and 4096 bytes, and reports what the server agreed to and the records
// it sent, its certificate chain, which anchors verify it, the certificate
// compression it used, whether it resumes sessions, the largest Range chunk
// whose answer fits a device that keeps its own TLS, and a verdict for a
// device limited to --device-limit bytes: works (agreed and kept), works
// (capped without answering), fits only by luck, or fails. After a failed
// handshake it says what failed (an expired certificate, an unknown
// authority, an alert). --trace prints one line per TLS record and --keylog
// FILE writes the session secrets for Wireshark.
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
// # cred
//
// cred manages a credential store directory in which CA certificates, client
// certificates and keys are kept under numeric security tags, as on a modem.
package main
