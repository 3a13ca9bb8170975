module github.com/tlsapp/tlsapp

go 1.26.8

require (
	github.com/ThalesGroup/crypto11 v1.6.2
	github.com/andybalholm/brotli v1.0.6
	github.com/google/renameio/v2 v2.0.2
	github.com/klauspost/compress v1.20.3
	github.com/refraction-networking/utls v1.8.2
	go.uber.org/goleak v1.3.0
	golang.org/x/crypto v0.58.0
	golang.org/x/term v0.47.0
)

require (
	github.com/miekg/pkcs11 v1.1.2 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
