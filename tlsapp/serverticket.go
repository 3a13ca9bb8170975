package tlsapp

import (
	"crypto/rand"
	"crypto/tls"
)

// installTickets makes cfg's session tickets, for a connection whose
// record cap capFn reports: the session state sealed under opts.TicketKeys
// when that ticket fits, else a name for the state in opts.SessionCache.
// With neither, tickets are off. What cfg's own WrapSession and
// UnwrapSession produce and read, if set, is what is sealed or kept.
func installTickets(cfg *tls.Config, opts ServerOptions, capFn func() int) {
	cache, keys := opts.SessionCache, opts.TicketKeys
	if cache == nil && keys == nil {
		cfg.SessionTicketsDisabled = true
		return
	}
	wrap, unwrap := cfg.WrapSession, cfg.UnwrapSession
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		var state []byte
		var err error
		if wrap != nil {
			state, err = wrap(cs, ss)
		} else {
			state, err = ss.Bytes()
		}
		if err != nil {
			return nil, err
		}
		if keys != nil {
			if t, err := keys.Seal(state); err == nil && ticketFits(cs.Version, len(t), capFn()) {
				if wrap == nil {
					clear(state) // ours, and it holds the session's secret
				}
				return t, nil
			}
		}
		if cache != nil {
			name := cache.put(state)
			return name[:], nil
		}
		// Too large to seal and nowhere to keep it: a name that resolves
		// to nothing (crypto/tls fails the handshake if no ticket comes).
		if wrap == nil {
			clear(state)
		}
		var name [ticketNameLen]byte
		rand.Read(name[:])
		return name[:], nil
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		var state []byte
		switch {
		case len(identity) == ticketNameLen: // sealed tickets are longer
			if cache == nil {
				return nil, nil
			}
			s, ok := cache.get(identity)
			if !ok {
				return nil, nil // unknown or dropped: a full handshake
			}
			state = s
		case keys != nil:
			s, err := keys.Open(identity)
			if err != nil {
				return nil, nil // another key's, dropped, or forged: a full handshake
			}
			state = s
		default:
			return nil, nil
		}
		if unwrap != nil {
			return unwrap(state, cs)
		}
		ss, err := tls.ParseSessionState(state)
		if err != nil {
			return nil, nil // from another Go version, for one
		}
		return ss, nil
	}
}

// ticketFits reports whether a ticket of n bytes can be sent on a
// connection of version v whose records carry at most limit bytes. A TLS 1.3
// NewSessionTicket goes in one application-epoch record, which the guard
// cannot re-encrypt, so the whole message must fit; a TLS 1.2 one is a
// plaintext handshake message, which the guard splits.
func ticketFits(v uint16, n, limit int) bool {
	return v != tls.VersionTLS13 || ticketMessageOverhead+n <= limit
}
