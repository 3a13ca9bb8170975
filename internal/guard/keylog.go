package guard

import (
	"bytes"
	"encoding/hex"
	"io"
)

// Key log labels (NSS key log format) this package needs.
const (
	labelClientHandshake = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	labelServerHandshake = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
)

// keyLog receives key log lines from the TLS stack, keeps the two TLS 1.3
// handshake traffic secrets in memory for the connection, and forwards every
// line to next, if any. It never stores application traffic secrets.
type keyLog struct {
	sink interface {
		setSecret(label string, secret []byte)
	}
	next io.Writer
}

func (k keyLog) Write(line []byte) (int, error) {
	fields := bytes.Fields(line)
	if len(fields) == 3 {
		label := string(fields[0])
		if label == labelClientHandshake || label == labelServerHandshake {
			secret := make([]byte, hex.DecodedLen(len(fields[2])))
			if _, err := hex.Decode(secret, fields[2]); err == nil {
				k.sink.setSecret(label, secret)
			}
		}
	}
	if k.next != nil {
		return k.next.Write(line)
	}
	return len(line), nil
}
