// Package edge is a caching mirror of one HTTPS origin for devices that
// keep their modem's TLS (an nRF91 modem: TLS 1.2 only, no record-size
// extension, records of at most 2303 bytes). Devices reach the edge, whose
// CA they trust, instead of the origin; the edge speaks TLS through
// tlsapp.NewListener, so that every record it sends, handshake records
// included (a 3.6 KB certificate chain is split across records), carries
// at most 2048 content bytes, and accepts the ECDHE AES-CBC suites such a
// modem offers besides the AEAD ones (CipherSuites). The origin stays the
// authority on every request: the edge forwards the device's path and
// query unchanged as a conditional GET (If-None-Match with the cached
// strong entity tag, or If-Modified-Since) and serves the body from its
// disk cache only when the origin answers 304 or 200 with the cached
// validator; an origin's 4xx (403 for a bad signature, 404, 410) is passed
// on without a byte of the body. A 200 with a new validator starts a fill:
// the body streams into a file while every device authorized for that
// version reads from the same file, so concurrent requests for an uncached
// object cost one full origin response (the others wait for its headers
// and ask conditionally). Objects are files that are complete only once
// their trailer (length and SHA-256) is written, synced and the file
// renamed from its ".part" name; a restart deletes partial and damaged
// files and rebuilds the index, and the least recently used objects are
// evicted to keep the cache within its size. The device-side HTTP is
// net/http's ServeContent: strong ETag (the origin's, or the body's
// SHA-256), Last-Modified, a single Range (206), 416, If-Range, HEAD.
//
// Only the configured origin is ever contacted. The edge refuses (4xx,
// without asking the origin) methods other than GET and HEAD (CONNECT
// included), request-targets not in origin form (absolute-form to any
// host, "*"), paths with dot segments, empty segments, encoded slashes,
// backslashes or control characters, bytes RFC 3986 does not allow, and
// Host headers that are not one of Config.Hosts.
//
// The origin request carries exactly: the device's path and query, byte
// for byte, below the origin's base path; Host: the origin's; If-None-Match
// (the cached strong entity tag) or, for an object without one,
// If-Modified-Since (its Last-Modified); the device's Authorization header,
// if it sent one; Accept-Encoding: identity; User-Agent: tlsapp-edge;
// X-Forwarded-For: the device's IP address. No other header of the
// device's (no Cookie, Range or If-Range: ranges are cut from the cache)
// reaches the origin. A device's HEAD is asked as a GET, so that it warms
// the cache as nginx's proxy_cache does.
//
// An operator may allow answers from the cache alone within the origin's
// Cache-Control max-age for URLs without a query
// (Config.CacheOnlyWithinMaxAge); a URL with a query (a pre-signed URL) is
// always authorized by the origin. An origin that sends neither a strong
// entity tag nor Last-Modified cannot be asked conditionally: each request
// then fetches the body again (and coalescing cannot apply).
package edge
