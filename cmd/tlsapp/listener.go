package main

// TEMPORARY: stand-ins until tlsapp.NewListener and package credstore land.

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"github.com/tlsapp/tlsapp/tlsapp"
)

func serverListener(inner net.Listener, cfg *tls.Config, maxRecord int) net.Listener {
	return tlsapp.NewListener(inner, cfg, tlsapp.ServerOptions{MaxRecord: maxRecord})
}

func storeVerifier(ctx context.Context, dir, tags string) (tlsapp.Verifier, error) {
	return nil, errors.New("credstore not available yet")
}

func runCred(ctx context.Context, e *env, args []string) error { return errors.New("not yet") }

func storeAnchors(ctx context.Context, dir, tags string) ([]namedAnchor, error) {
	return nil, errors.New("credstore not available yet")
}
