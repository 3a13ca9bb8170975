// Package trust holds the few types through which a source of credentials
// (such as package credstore) and the TLS client (package tlsapp) meet,
// without either importing the other.
//
// A device keeps its credentials under numeric security tags, as a cellular
// modem does. A [Verifier] checks a server's chain against every trust
// anchor of the selected tags at once and names the [Anchor]s that verified
// it. [Credentials] is what a client asks of a selection of tags during a
// handshake: that verifier, the client certificate, and a [SessionCache]
// that keeps resumption state across connections and restarts as opaque
// [Session] bytes.
package trust
