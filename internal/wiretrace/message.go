package wiretrace

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/cryptobyte"
)

// helloRetryRandom is the ServerHello random that marks a
// HelloRetryRequest (RFC 8446, Section 4.1.3).
var helloRetryRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// msgContext is what decoding a message needs to know and what it learns.
type msgContext struct {
	sent    bool   // the client sent the message
	version uint16 // the negotiated version, 0 before the ServerHello
}

// hello is what the decoder learns from a hello.
type hello struct {
	random  []byte
	version uint16 // ServerHello: the selected version
	suite   uint16 // ServerHello: the selected suite
	retry   bool   // a HelloRetryRequest
}

// decodeMessage fills m (Code, Len already set) from the whole message body
// and returns what a hello taught.
func decodeMessage(m *Message, body []byte, ctx msgContext) (h hello) {
	s := cryptobyte.String(body)
	ok := true
	switch m.Code {
	case msgClientHello:
		h, ok = decodeClientHello(m, s)
	case msgServerHello:
		h, ok = decodeServerHello(m, s)
	case msgEncryptedExtensions:
		var exts cryptobyte.String
		ok = s.ReadUint16LengthPrefixed(&exts) && s.Empty() && decodeExtensions(m, exts, placeEE)
	case msgCertificate:
		ok = decodeCertificate(m, s, ctx.version)
	case msgCompressedCertificate:
		var alg uint16
		var n uint32
		var data cryptobyte.String
		ok = s.ReadUint16(&alg) && s.ReadUint24(&n) && s.ReadUint24LengthPrefixed(&data) && s.Empty()
		if ok {
			m.add("algorithm", certCompressionName(alg))
			m.add("uncompressed_length", strconv.Itoa(int(n))+" B")
			m.add("compressed_length", strconv.Itoa(len(data))+" B")
		}
	case msgCertificateVerify:
		var alg uint16
		var sig cryptobyte.String
		ok = s.ReadUint16(&alg) && s.ReadUint16LengthPrefixed(&sig) && s.Empty()
		if ok {
			m.add("algorithm", sigName(alg))
			m.add("signature", strconv.Itoa(len(sig))+" B")
		}
	case msgFinished:
		m.add("verify_data", strconv.Itoa(len(body))+" B")
	case msgNewSessionTicket:
		ok = decodeTicket(m, s, ctx.version)
	case msgKeyUpdate:
		var req uint8
		ok = s.ReadUint8(&req) && s.Empty()
		if ok {
			v := "update_not_requested"
			if req == 1 {
				v = "update_requested"
			} else if req != 0 {
				v = strconv.Itoa(int(req))
			}
			m.add("request_update", v)
		}
	case msgServerKeyExchange:
		ok = decodeServerKeyExchange(m, s)
	case msgClientKeyExchange:
		var pub cryptobyte.String
		if s.ReadUint8LengthPrefixed(&pub) && s.Empty() {
			m.add("public_key", strconv.Itoa(len(pub))+" B")
		}
	case msgCertificateRequest:
		ok = decodeCertificateRequest(m, s, ctx.version)
	case msgServerHelloDone, msgEndOfEarlyData, msgHelloRequest:
		ok = s.Empty()
	}
	if !ok {
		m.Note = "malformed"
	}
	return h
}

func (m *Message) add(name, value string, list ...string) {
	m.Fields = append(m.Fields, Field{Name: name, Value: value, List: list})
}

func decodeClientHello(m *Message, s cryptobyte.String) (hello, bool) {
	var h hello
	var vers uint16
	var random, sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&vers) || !s.ReadBytes((*[]byte)(&random), 32) || !s.ReadUint8LengthPrefixed(&sid) ||
		!s.ReadUint16LengthPrefixed(&suites) || !s.ReadUint8LengthPrefixed(&comp) {
		return h, false
	}
	h.random = bytes.Clone(random)
	m.add("legacy_version", versionName(vers))
	m.add("random", fmt.Sprintf("%x…", []byte(random[:4])))
	m.add("session_id", strconv.Itoa(len(sid))+" B")
	var names []string
	for !suites.Empty() {
		var c uint16
		if !suites.ReadUint16(&c) {
			return h, false
		}
		names = append(names, suiteName(c))
	}
	m.add("cipher_suites", strconv.Itoa(len(names)), names...)
	var cm []string
	for _, c := range comp {
		if c == 0 {
			cm = append(cm, "null")
		} else {
			cm = append(cm, strconv.Itoa(int(c)))
		}
	}
	m.add("compression_methods", strings.Join(cm, ", "), cm...)
	if s.Empty() {
		return h, true
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return h, false
	}
	return h, decodeExtensions(m, exts, placeCH)
}

func decodeServerHello(m *Message, s cryptobyte.String) (hello, bool) {
	var h hello
	var vers, suite uint16
	var comp uint8
	var random, sid cryptobyte.String
	if !s.ReadUint16(&vers) || !s.ReadBytes((*[]byte)(&random), 32) || !s.ReadUint8LengthPrefixed(&sid) ||
		!s.ReadUint16(&suite) || !s.ReadUint8(&comp) {
		return h, false
	}
	h.random, h.version, h.suite = bytes.Clone(random), vers, suite
	place := placeSH
	if bytes.Equal(random, helloRetryRandom[:]) {
		h.retry = true
		m.Name = "HelloRetryRequest"
		place = placeHRR
	}
	m.add("legacy_version", versionName(vers))
	if !h.retry {
		m.add("random", fmt.Sprintf("%x…", []byte(random[:4])))
	}
	m.add("session_id", strconv.Itoa(len(sid))+" B")
	m.add("cipher_suite", suiteName(suite))
	if comp != 0 {
		m.add("compression_method", strconv.Itoa(int(comp)))
	}
	if s.Empty() {
		return h, true
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return h, false
	}
	ok := decodeExtensions(m, exts, place)
	for _, e := range m.Extensions {
		if e.Code == extSupportedVersions && e.Number != 0 {
			h.version = uint16(e.Number)
		}
	}
	return h, ok
}

func decodeCertificate(m *Message, s cryptobyte.String, version uint16) bool {
	if version == 0x0304 {
		var ctx cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&ctx) {
			return false
		}
		if len(ctx) > 0 {
			m.add("request_context", strconv.Itoa(len(ctx))+" B")
		}
	}
	var list cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return false
	}
	var sizes []string
	for !list.Empty() {
		var cert cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&cert) {
			return false
		}
		if version == 0x0304 {
			var exts cryptobyte.String
			if !list.ReadUint16LengthPrefixed(&exts) {
				return false
			}
		}
		sizes = append(sizes, strconv.Itoa(len(cert))+" B")
	}
	m.add("certificates", strconv.Itoa(len(sizes)), sizes...)
	return true
}

func decodeTicket(m *Message, s cryptobyte.String, version uint16) bool {
	var lifetime uint32
	if !s.ReadUint32(&lifetime) {
		return false
	}
	m.add("lifetime", strconv.Itoa(int(lifetime))+" s")
	if version == 0x0304 {
		var ageAdd uint32
		var nonce, ticket, exts cryptobyte.String
		if !s.ReadUint32(&ageAdd) || !s.ReadUint8LengthPrefixed(&nonce) || !s.ReadUint16LengthPrefixed(&ticket) ||
			!s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
			return false
		}
		m.add("ticket", strconv.Itoa(len(ticket))+" B")
		return decodeExtensions(m, exts, placeNST)
	}
	var ticket cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ticket) || !s.Empty() {
		return false
	}
	m.add("ticket", strconv.Itoa(len(ticket))+" B")
	return true
}

func decodeServerKeyExchange(m *Message, s cryptobyte.String) bool {
	var curveType uint8
	var group uint16
	var pub cryptobyte.String
	if !s.ReadUint8(&curveType) || curveType != 3 || !s.ReadUint16(&group) || !s.ReadUint8LengthPrefixed(&pub) {
		return false // not ECDHE named_curve: left undecoded
	}
	m.add("group", groupName(group))
	m.add("public_key", strconv.Itoa(len(pub))+" B")
	var alg uint16
	var sig cryptobyte.String
	if s.ReadUint16(&alg) && s.ReadUint16LengthPrefixed(&sig) && s.Empty() {
		m.add("signature_algorithm", sigName(alg))
		m.add("signature", strconv.Itoa(len(sig))+" B")
		return true
	}
	return false
}

func decodeCertificateRequest(m *Message, s cryptobyte.String, version uint16) bool {
	if version == 0x0304 {
		var ctx, exts cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&ctx) || !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
			return false
		}
		return decodeExtensions(m, exts, placeCR)
	}
	var types, algs, cas cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&types) || !s.ReadUint16LengthPrefixed(&algs) || !s.ReadUint16LengthPrefixed(&cas) || !s.Empty() {
		return false
	}
	names, ok := sigList(algs)
	m.add("signature_algorithms", strconv.Itoa(len(names)), names...)
	m.add("certificate_authorities", strconv.Itoa(len(cas))+" B")
	return ok
}

// Where an extension list sits: some extensions have a different body in
// each.
type place uint8

const (
	placeCH place = iota
	placeSH
	placeHRR
	placeEE
	placeCR
	placeNST
)

// decodeExtensions appends the extensions of the list s to m. It returns
// false for a malformed list; an extension whose body does not parse is
// kept with the value "malformed".
func decodeExtensions(m *Message, s cryptobyte.String, where place) bool {
	for !s.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !s.ReadUint16(&typ) || !s.ReadUint16LengthPrefixed(&data) {
			return false
		}
		e := Extension{Code: typ, Name: extensionName(typ), Len: len(data)}
		if !decodeExtension(&e, data, where) {
			e.Value, e.List, e.Number = "malformed", nil, 0
		}
		m.Extensions = append(m.Extensions, e)
	}
	return true
}

// decodeExtension fills e.Value, List and Number from the body s.
func decodeExtension(e *Extension, s cryptobyte.String, where place) bool {
	switch e.Code {
	case extServerName:
		if s.Empty() {
			e.Value = "(acknowledged)"
			return true
		}
		var list cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for !list.Empty() {
			var typ uint8
			var name cryptobyte.String
			if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) {
				return false
			}
			e.List = append(e.List, printable(name))
		}
		e.Value = strings.Join(e.List, ", ")
	case extMaxFragmentLength:
		var code uint8
		if !s.ReadUint8(&code) || !s.Empty() {
			return false
		}
		if n := mflLength(code); n != 0 {
			e.Value = fmt.Sprintf("code %d = 2^%d = %d B", code, 8+code, n)
			e.Number = n
		} else {
			e.Value = fmt.Sprintf("code %d (not defined by RFC 6066)", code)
		}
	case extRecordSizeLimit:
		var n uint16
		if !s.ReadUint16(&n) || !s.Empty() {
			return false
		}
		e.Value, e.Number = strconv.Itoa(int(n)), int(n)
	case extSupportedVersions:
		if where == placeSH || where == placeHRR {
			var v uint16
			if !s.ReadUint16(&v) || !s.Empty() {
				return false
			}
			e.Value, e.Number = versionName(v), int(v)
			return true
		}
		var list cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for !list.Empty() {
			var v uint16
			if !list.ReadUint16(&v) {
				return false
			}
			e.List = append(e.List, versionName(v))
		}
		e.Value = strings.Join(e.List, ", ")
	case extSupportedGroups:
		var list cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for !list.Empty() {
			var g uint16
			if !list.ReadUint16(&g) {
				return false
			}
			e.List = append(e.List, groupName(g))
		}
		e.Value = strings.Join(e.List, ", ")
	case extKeyShare:
		return decodeKeyShare(e, s, where)
	case extSignatureAlgorithms, extSignatureAlgsCert:
		var list cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		var ok bool
		e.List, ok = sigList(list)
		e.Value = strings.Join(e.List, ", ")
		return ok
	case extALPN:
		var list cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for !list.Empty() {
			var p cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&p) {
				return false
			}
			e.List = append(e.List, printable(p))
		}
		e.Value = strings.Join(e.List, ", ")
	case extCompressCertificate:
		var list cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for !list.Empty() {
			var a uint16
			if !list.ReadUint16(&a) {
				return false
			}
			e.List = append(e.List, certCompressionName(a))
		}
		e.Value = strings.Join(e.List, ", ")
	case extPSKModes:
		var list cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for _, b := range list {
			e.List = append(e.List, pskModeName(b))
		}
		e.Value = strings.Join(e.List, ", ")
	case extECPointFormats:
		var list cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() {
			return false
		}
		for _, b := range list {
			n := strconv.Itoa(int(b))
			if b == 0 {
				n = "uncompressed"
			}
			e.List = append(e.List, n)
		}
		e.Value = strings.Join(e.List, ", ")
	case extPreSharedKey:
		if where == placeSH {
			var sel uint16
			if !s.ReadUint16(&sel) || !s.Empty() {
				return false
			}
			e.Value = fmt.Sprintf("selected identity %d", sel)
			return true
		}
		var ids, binders cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&ids) || !s.ReadUint16LengthPrefixed(&binders) || !s.Empty() {
			return false
		}
		n := 0
		for !ids.Empty() {
			var id cryptobyte.String
			var age uint32
			if !ids.ReadUint16LengthPrefixed(&id) || !ids.ReadUint32(&age) {
				return false
			}
			n++
		}
		e.Value = fmt.Sprintf("%d identit%s", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	case extSessionTicket:
		if len(s) == 0 {
			e.Value = "empty"
		} else {
			e.Value = strconv.Itoa(len(s)) + " B ticket"
		}
	case extEarlyData:
		if where == placeNST {
			var max uint32
			if !s.ReadUint32(&max) || !s.Empty() {
				return false
			}
			e.Value = fmt.Sprintf("max_early_data_size %d", max)
		}
	case extPadding:
		e.Value = strconv.Itoa(len(s)) + " B"
	case extCookie:
		var c cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&c) || !s.Empty() {
			return false
		}
		e.Value = strconv.Itoa(len(c)) + " B"
	case extRenegotiationInfo:
		var c cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&c) || !s.Empty() {
			return false
		}
		e.Value = "initial handshake"
		if len(c) > 0 {
			e.Value = fmt.Sprintf("renegotiation, %d B of verify_data", len(c))
		}
	}
	return true
}

func decodeKeyShare(e *Extension, s cryptobyte.String, where place) bool {
	switch where {
	case placeHRR:
		var g uint16
		if !s.ReadUint16(&g) || !s.Empty() {
			return false
		}
		e.Value, e.List = "asks for "+groupName(g), []string{groupName(g)}
		return true
	case placeSH:
		var g uint16
		var key cryptobyte.String
		if !s.ReadUint16(&g) || !s.ReadUint16LengthPrefixed(&key) || !s.Empty() {
			return false
		}
		e.List = []string{groupName(g)}
		e.Value = fmt.Sprintf("%s (%d B)", groupName(g), len(key))
		return true
	}
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return false
	}
	var parts []string
	for !list.Empty() {
		var g uint16
		var key cryptobyte.String
		if !list.ReadUint16(&g) || !list.ReadUint16LengthPrefixed(&key) {
			return false
		}
		e.List = append(e.List, groupName(g))
		parts = append(parts, fmt.Sprintf("%s (%d B)", groupName(g), len(key)))
	}
	e.Value = strings.Join(parts, ", ")
	return true
}

func sigList(s cryptobyte.String) ([]string, bool) {
	var names []string
	for !s.Empty() {
		var a uint16
		if !s.ReadUint16(&a) {
			return names, false
		}
		names = append(names, sigName(a))
	}
	return names, true
}

// printable returns b as a string with anything but printable ASCII
// escaped, so that a hostile name cannot move a terminal's cursor.
func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

// decodeAlert decodes a two-byte alert body.
func decodeAlert(b []byte) (*Alert, bool) {
	if len(b) != 2 {
		return nil, false
	}
	return &Alert{Level: alertLevelName(b[0]), Description: alertName(b[1]), Code: b[1]}, true
}
