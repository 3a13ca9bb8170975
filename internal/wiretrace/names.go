package wiretrace

import (
	"crypto/tls"
	"fmt"
	"strconv"
)

// The tables below are this package's own, from the IANA TLS registries,
// so that a trace names what the wire carries whatever the TLS stack
// knows.

// Content types.
const (
	typeChangeCipherSpec uint8 = 20
	typeAlert            uint8 = 21
	typeHandshake        uint8 = 22
	typeApplicationData  uint8 = 23
)

func contentTypeName(t uint8) string {
	switch t {
	case typeChangeCipherSpec:
		return "change_cipher_spec"
	case typeAlert:
		return "alert"
	case typeHandshake:
		return "handshake"
	case typeApplicationData:
		return "application_data"
	}
	return "content_type(" + strconv.Itoa(int(t)) + ")"
}

// Handshake message types.
const (
	msgHelloRequest          uint8 = 0
	msgClientHello           uint8 = 1
	msgServerHello           uint8 = 2
	msgNewSessionTicket      uint8 = 4
	msgEndOfEarlyData        uint8 = 5
	msgEncryptedExtensions   uint8 = 8
	msgCertificate           uint8 = 11
	msgServerKeyExchange     uint8 = 12
	msgCertificateRequest    uint8 = 13
	msgServerHelloDone       uint8 = 14
	msgCertificateVerify     uint8 = 15
	msgClientKeyExchange     uint8 = 16
	msgFinished              uint8 = 20
	msgCertificateStatus     uint8 = 22
	msgKeyUpdate             uint8 = 24
	msgCompressedCertificate uint8 = 25
	msgMessageHash           uint8 = 254
)

var messageNames = map[uint8]string{
	msgHelloRequest:          "HelloRequest",
	msgClientHello:           "ClientHello",
	msgServerHello:           "ServerHello",
	3:                        "HelloVerifyRequest",
	msgNewSessionTicket:      "NewSessionTicket",
	msgEndOfEarlyData:        "EndOfEarlyData",
	6:                        "HelloRetryRequest",
	msgEncryptedExtensions:   "EncryptedExtensions",
	msgCertificate:           "Certificate",
	msgServerKeyExchange:     "ServerKeyExchange",
	msgCertificateRequest:    "CertificateRequest",
	msgServerHelloDone:       "ServerHelloDone",
	msgCertificateVerify:     "CertificateVerify",
	msgClientKeyExchange:     "ClientKeyExchange",
	msgFinished:              "Finished",
	21:                       "CertificateURL",
	msgCertificateStatus:     "CertificateStatus",
	23:                       "SupplementalData",
	msgKeyUpdate:             "KeyUpdate",
	msgCompressedCertificate: "CompressedCertificate",
	msgMessageHash:           "MessageHash",
}

func messageName(t uint8) string {
	if s, ok := messageNames[t]; ok {
		return s
	}
	return "handshake_type(" + strconv.Itoa(int(t)) + ")"
}

// Extension code points this package decodes.
const (
	extServerName          uint16 = 0
	extMaxFragmentLength   uint16 = 1
	extStatusRequest       uint16 = 5
	extSupportedGroups     uint16 = 10
	extECPointFormats      uint16 = 11
	extSignatureAlgorithms uint16 = 13
	extALPN                uint16 = 16
	extPadding             uint16 = 21
	extCompressCertificate uint16 = 27
	extRecordSizeLimit     uint16 = 28
	extSessionTicket       uint16 = 35
	extPreSharedKey        uint16 = 41
	extEarlyData           uint16 = 42
	extSupportedVersions   uint16 = 43
	extCookie              uint16 = 44
	extPSKModes            uint16 = 45
	extCertAuthorities     uint16 = 47
	extSignatureAlgsCert   uint16 = 50
	extKeyShare            uint16 = 51
	extRenegotiationInfo   uint16 = 0xff01
)

var extensionNames = map[uint16]string{
	extServerName:          "server_name",
	extMaxFragmentLength:   "max_fragment_length",
	2:                      "client_certificate_url",
	3:                      "trusted_ca_keys",
	4:                      "truncated_hmac",
	extStatusRequest:       "status_request",
	extSupportedGroups:     "supported_groups",
	extECPointFormats:      "ec_point_formats",
	extSignatureAlgorithms: "signature_algorithms",
	14:                     "use_srtp",
	15:                     "heartbeat",
	extALPN:                "application_layer_protocol_negotiation",
	17:                     "status_request_v2",
	18:                     "signed_certificate_timestamp",
	19:                     "client_certificate_type",
	20:                     "server_certificate_type",
	extPadding:             "padding",
	22:                     "encrypt_then_mac",
	23:                     "extended_master_secret",
	extCompressCertificate: "compress_certificate",
	extRecordSizeLimit:     "record_size_limit",
	34:                     "delegated_credential",
	extSessionTicket:       "session_ticket",
	extPreSharedKey:        "pre_shared_key",
	extEarlyData:           "early_data",
	extSupportedVersions:   "supported_versions",
	extCookie:              "cookie",
	extPSKModes:            "psk_key_exchange_modes",
	extCertAuthorities:     "certificate_authorities",
	48:                     "oid_filters",
	49:                     "post_handshake_auth",
	extSignatureAlgsCert:   "signature_algorithms_cert",
	extKeyShare:            "key_share",
	57:                     "quic_transport_parameters",
	17513:                  "application_settings",
	17613:                  "application_settings",
	0xfe0d:                 "encrypted_client_hello",
	extRenegotiationInfo:   "renegotiation_info",
}

// grease reports whether v is one of RFC 8701's reserved values
// (0x0A0A, 0x1A1A, ... 0xFAFA).
func grease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func extensionName(t uint16) string {
	if s, ok := extensionNames[t]; ok {
		return s
	}
	if grease(t) {
		return "GREASE"
	}
	return "extension(" + strconv.Itoa(int(t)) + ")"
}

var groupNames = map[uint16]string{
	0x0017: "secp256r1",
	0x0018: "secp384r1",
	0x0019: "secp521r1",
	0x001d: "x25519",
	0x001e: "x448",
	0x0100: "ffdhe2048",
	0x0101: "ffdhe3072",
	0x0102: "ffdhe4096",
	0x11ec: "X25519MLKEM768",
	0x11eb: "SecP256r1MLKEM768",
	0x6399: "X25519Kyber768Draft00",
}

func groupName(g uint16) string {
	if s, ok := groupNames[g]; ok {
		return s
	}
	if grease(g) {
		return "GREASE"
	}
	return fmt.Sprintf("group(0x%04x)", g)
}

var sigNames = map[uint16]string{
	0x0401: "rsa_pkcs1_sha256",
	0x0501: "rsa_pkcs1_sha384",
	0x0601: "rsa_pkcs1_sha512",
	0x0403: "ecdsa_secp256r1_sha256",
	0x0503: "ecdsa_secp384r1_sha384",
	0x0603: "ecdsa_secp521r1_sha512",
	0x0804: "rsa_pss_rsae_sha256",
	0x0805: "rsa_pss_rsae_sha384",
	0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519",
	0x0808: "ed448",
	0x0809: "rsa_pss_pss_sha256",
	0x080a: "rsa_pss_pss_sha384",
	0x080b: "rsa_pss_pss_sha512",
	0x0201: "rsa_pkcs1_sha1",
	0x0203: "ecdsa_sha1",
}

func sigName(s uint16) string {
	if n, ok := sigNames[s]; ok {
		return n
	}
	if grease(s) {
		return "GREASE"
	}
	return fmt.Sprintf("sig(0x%04x)", s)
}

func versionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	if grease(v) {
		return "GREASE"
	}
	return fmt.Sprintf("version(0x%04x)", v)
}

func suiteName(s uint16) string {
	if grease(s) {
		return "GREASE"
	}
	if s == 0x00ff {
		return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
	}
	// crypto/tls names every suite it knows and prints others as 0xNNNN.
	return tls.CipherSuiteName(s)
}

func certCompressionName(a uint16) string {
	switch a {
	case 1:
		return "zlib"
	case 2:
		return "brotli"
	case 3:
		return "zstd"
	}
	return fmt.Sprintf("algorithm(%d)", a)
}

func pskModeName(m uint8) string {
	switch m {
	case 0:
		return "psk_ke"
	case 1:
		return "psk_dhe_ke"
	}
	return fmt.Sprintf("mode(%d)", m)
}

var alertNames = map[uint8]string{
	0:   "close_notify",
	10:  "unexpected_message",
	20:  "bad_record_mac",
	21:  "decryption_failed",
	22:  "record_overflow",
	30:  "decompression_failure",
	40:  "handshake_failure",
	41:  "no_certificate",
	42:  "bad_certificate",
	43:  "unsupported_certificate",
	44:  "certificate_revoked",
	45:  "certificate_expired",
	46:  "certificate_unknown",
	47:  "illegal_parameter",
	48:  "unknown_ca",
	49:  "access_denied",
	50:  "decode_error",
	51:  "decrypt_error",
	60:  "export_restriction",
	70:  "protocol_version",
	71:  "insufficient_security",
	80:  "internal_error",
	86:  "inappropriate_fallback",
	90:  "user_canceled",
	100: "no_renegotiation",
	109: "missing_extension",
	110: "unsupported_extension",
	111: "certificate_unobtainable",
	112: "unrecognized_name",
	113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value",
	115: "unknown_psk_identity",
	116: "certificate_required",
	120: "no_application_protocol",
	121: "ech_required",
}

func alertName(d uint8) string {
	if s, ok := alertNames[d]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(d)) + ")"
}

func alertLevelName(l uint8) string {
	switch l {
	case 1:
		return "warning"
	case 2:
		return "fatal"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// mflLength is the fragment length an RFC 6066 max_fragment_length code
// stands for, 0 for a code it does not define.
func mflLength(code uint8) int {
	if code >= 1 && code <= 4 {
		return 256 << code
	}
	return 0
}
