// Package tlsapp is a TLS 1.2 and 1.3 client for devices whose link can only
// hold small TLS records, built on github.com/refraction-networking/utls.
//
// A Conn offers max_fragment_length (RFC 6066) and/or record_size_limit (RFC
// 8449) as its Config asks, learns what the server agreed (from the
// ServerHello, or in TLS 1.3 from the encrypted EncryptedExtensions), honours
// the agreed limit on every record it sends, handshake records included, and
// enforces it on every record it receives: a server that agreed to 512 bytes
// and then sends more ends the connection with a record_overflow error. A
// server that answers neither extension still works, with records up to
// 16 KiB. RecordState reports what was offered, agreed and seen.
//
// The record-size logic lives in package recordlimit; this package builds the
// ClientHello (a plain, standards-following hello: no browser imitation),
// wires recordlimit between utls and the transport, and splits application
// writes so that each record stays within the limit. The records of one Write
// (up to 64 KiB of records) reach the transport in a single write call, which
// matters on a modem socket where every call costs a round of AT commands.
//
// Certificate verification is on by default, against Config.RootCAs (the
// system pool when nil), a Config.Verifier, or Config.Credentials, a
// selection of a credential store's tags (credstore.Select), which also
// supplies the client certificate and the session cache; every path checks
// validity at Config.Time, and the trust anchor that verified the server is
// reported.
//
// Config.SignatureSchemes and Config.CurvePreferences choose the signature
// algorithms the client offers, and the only ones it accepts from the
// server, and the key exchange groups it offers (P-521 only when listed);
// a server that signs, or in TLS 1.2 exchanges keys, outside the offer is
// refused with illegal_parameter.
//
// A connection ended by a fatal alert reports an *AlertError saying which
// alert and whether the server sent it.
//
// The server side, NewListener and Server, keeps every record a crypto/tls
// server sends within what each client asked for (and ServerOptions.MaxRecord),
// refuses malformed record-size offers with the RFCs' alerts, and resumes
// sessions through a ServerSessionCache whose tickets are short names, so
// that even tickets fit the smallest records. A fleet of servers behind one
// load balancer shares session-ticket keys (ServerOptions.TicketKeys, a
// ring of package ticketkey read from a file): a ticket then holds the
// session sealed under the newest key, so any server of the fleet resumes
// it, as long as the ticket fits the connection's records; one that does
// not fit is a name in the issuing server's cache.
//
// ServeTLS and ListenAndServeTLS serve an http.Server over such a listener in
// one call, as http.Server.ServeTLS does over crypto/tls, HTTP/1.1 only (the
// connections are not *tls.Conns, so net/http does not speak HTTP/2 over
// them). A handler reads the client's certificate from Request.TLS, and the
// connection's record facts (what the client asked for, the cap in force,
// the largest record sent) from ServerStateFrom(r.Context()).
package tlsapp
