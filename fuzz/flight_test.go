package fuzz

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// flightOffers are the offers FuzzServerFlight's client makes.
var flightOffers = []tlsapp.Config{
	{MaxFragmentLength: 512},
	{RecordSizeLimit: 64},
	{RecordSizeLimit: 2048},
	{MaxFragmentLength: 1024, RecordSizeLimit: 512},
}

// flightEE returns the extensions of FuzzServerFlight's EncryptedExtensions:
// sel&3 picks a max_fragment_length answer (none, 512, 1024, 4096) and
// sel>>2&7 a record_size_limit one (none, 64, 512, 2048, 16385, and the
// illegal 63, 16386 and a 1-byte body).
func flightEE(sel uint8) []wire.Extension {
	var exts []wire.Extension
	if m := []byte{0, 1, 2, 4}[sel&3]; m != 0 {
		exts = append(exts, wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{m}})
	}
	switch v := []int{0, 64, 512, 2048, 16385, 63, 16386, -1}[sel>>2&7]; {
	case v > 0:
		exts = append(exts, wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{byte(v >> 8), byte(v)}})
	case v < 0:
		exts = append(exts, wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{1}})
	}
	return exts
}

// Framing flags: plan[0] of FuzzServerFlight.
const (
	planRetry          = 1 << iota // a HelloRetryRequest (with a cookie) first
	planRetryWithHello             // the HelloRetryRequest and the ServerHello in one record
	planEEInHello                  // EncryptedExtensions in the ServerHello's plaintext record
	planCCS                        // a ChangeCipherSpec in the clear after the ServerHello
	planEncryptedCCS               // an encrypted change_cipher_spec (inner type 20) before the flight
	planSplitHello                 // the ServerHello across two records
)

// FuzzServerFlight drives a real client (tlsapp over utls, with the guard)
// against a scripted server that completes a real TLS 1.3 handshake framed
// as the input says: a HelloRetryRequest or not, the ServerHello alone, in
// two records, with the HelloRetryRequest or with EncryptedExtensions in its
// record, ChangeCipherSpecs in the clear or encrypted, and the encrypted
// flight cut into records of the sizes the plan gives, padded or not. The
// property (issue 11, item 1): whenever the handshake completes, the guard's
// agreement is what the EncryptedExtensions the client decrypted said, by
// RFC 6066 and RFC 8449; and a legitimate framing (no flag but the
// HelloRetryRequest, small records, an answer the RFCs allow) completes.
// Seeds: the three escapes of issue 11 under testdata/fuzz/FuzzServerFlight.
func FuzzServerFlight(f *testing.F) {
	ca := testpki.Issue(f, "flight CA", true, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), nil)
	leaf := testpki.Issue(f, "localhost", false, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), ca, "localhost")
	chain := [][]byte{leaf.Cert.Raw, ca.Cert.Raw}
	f.Add(uint8(1), uint8(1<<2), []byte{0})
	f.Add(uint8(1), uint8(1<<2), []byte{0, 40, 40, 40})
	f.Add(uint8(0), uint8(1), []byte{planRetry | planCCS, 0x7f, 0x45, 0x85})
	f.Add(uint8(3), uint8(1|2<<2), []byte{planSplitHello})
	f.Fuzz(func(t *testing.T, offerSel, eeSel uint8, plan []byte) {
		if len(plan) > 64 {
			return // framings beyond 64 records say nothing more
		}
		var flags byte
		if len(plan) > 0 {
			flags, plan = plan[0], plan[1:]
		}
		cfg := flightOffers[int(offerSel)%len(flightOffers)]
		offer := recordlimit.Offer{RecordSizeLimit: cfg.RecordSizeLimit}
		offer.MaxFragmentLength, _ = recordlimit.MaxFragmentCodeFor(cfg.MaxFragmentLength)
		ee := flightEE(eeSel)
		small := true // every record after the ServerHello within every limit an answer can set
		for _, b := range plan {
			if b&0xc0 != 0 || chunkSize(b) > chunkSize(restChunk) {
				small = false
			}
		}

		addr := scripted.Serve(t, func(s *scripted.Session) error {
			if s.ReadClientHello() != nil {
				return nil
			}
			serveFlight(s, flags, plan, ee, chain, leaf)
			return nil
		})
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		cfg.InsecureSkipVerify = true
		c := tlsapp.Client(raw, &cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		herr := c.HandshakeContext(ctx)
		st := c.RecordState()
		c.Close()

		want, nerr := wire.NegotiateEncryptedExtensions(offer, scripted.Suite13, ee)
		t.Logf("handshake: %v; agreed %v; EncryptedExtensions: %v", herr, st.Agreed, nerr)
		if herr == nil {
			if nerr != nil {
				t.Fatalf("handshake completed although the EncryptedExtensions break the rules: %v", nerr)
			}
			if st.Agreed != want.Kind || st.AgreedMaxFragmentLength != want.MaxFragmentLength.Bytes() || st.PeerRecordSizeLimit != want.PeerRecordSizeLimit {
				t.Fatalf("guard agreed %v (mfl %d, rsl %d), EncryptedExtensions said %v (mfl %d, rsl %d)",
					st.Agreed, st.AgreedMaxFragmentLength, st.PeerRecordSizeLimit,
					want.Kind, want.MaxFragmentLength.Bytes(), want.PeerRecordSizeLimit)
			}
			return
		}
		if errors.Is(herr, context.DeadlineExceeded) {
			t.Fatalf("handshake hung: %v", herr)
		}
		if legit := flags&^planRetry == 0 && small && nerr == nil; legit {
			t.Fatalf("legitimate framing (flags %#x, plan %v) refused: %v", flags, plan, herr)
		}
	})
}

// chunkSize is the size of the encrypted flight record a plan byte asks
// for: 1 to 505 bytes.
func chunkSize(b byte) int { return int(b&0x3f)*8 + 1 }

// restChunk is the plan byte for the records after the plan: 33 bytes,
// within every limit an answer can set.
const restChunk = 4

// serveFlight sends the server's side of the handshake framed as flags and
// plan say, then, if the client finishes, one application record. Errors
// are the client's doing (it hung up) and end the script.
func serveFlight(s *scripted.Session, flags byte, plan []byte, ee []wire.Extension, chain [][]byte, leaf *testpki.Cert) {
	var hrr []byte
	if flags&(planRetry|planRetryWithHello) != 0 {
		hrr = s.HelloRetryRequestCookie13()
	}
	if hrr != nil && flags&planRetryWithHello == 0 {
		if s.SendRecord(recordlimit.TypeHandshake, hrr) != nil || s.ReadClientHello() != nil {
			return
		}
		hrr = nil
	}
	sh, err := s.ServerHello13()
	if err != nil {
		return
	}
	if hrr != nil {
		// Both in one record, before the second ClientHello.
		if s.SendRecord(recordlimit.TypeHandshake, append(hrr, sh...)) != nil || s.ReadClientHello() != nil {
			return
		}
	}
	if s.Accept13(sh) != nil {
		return
	}
	msgs, err := s.Flight13(scripted.EncryptedExtensions(ee...), chain, leaf.Key, nil)
	if err != nil {
		return
	}
	if hrr == nil {
		first := sh
		if flags&planEEInHello != 0 {
			first = append(append([]byte(nil), sh...), msgs[0]...)
			msgs = msgs[1:]
		}
		if flags&planSplitHello != 0 && len(first) > 1 {
			half := len(first) / 2
			if s.SendRecord(recordlimit.TypeHandshake, first[:half]) != nil {
				return
			}
			first = first[half:]
		}
		if s.SendRecord(recordlimit.TypeHandshake, first) != nil {
			return
		}
	}
	if flags&planCCS != 0 && s.SendRecord(recordlimit.TypeChangeCipherSpec, []byte{1}) != nil {
		return
	}
	if flags&planEncryptedCCS != 0 && s.SendEncrypted(recordlimit.TypeChangeCipherSpec, []byte{1}, 0) != nil {
		return
	}
	var flight []byte
	for _, m := range msgs {
		flight = append(flight, m...)
	}
	for i := 0; len(flight) > 0; i++ {
		b := byte(restChunk) // the rest in small records
		if i < len(plan) {
			b = plan[i]
		}
		n := min(chunkSize(b), len(flight))
		pad := 0
		switch b & 0xc0 {
		case 0x40:
			pad = n%8 + 1
		case 0x80:
			if s.SendRecord(recordlimit.TypeChangeCipherSpec, []byte{1}) != nil {
				return
			}
		case 0xc0:
			if s.SendEncrypted(recordlimit.TypeChangeCipherSpec, []byte{1}, 0) != nil {
				return
			}
		}
		if s.SendEncrypted(recordlimit.TypeHandshake, flight[:n], pad) != nil {
			return
		}
		flight = flight[n:]
	}
	if s.Complete13() != nil {
		return
	}
	s.SendApp([]byte("ok"))
	s.ReadAlert() // until the client hangs up
}
