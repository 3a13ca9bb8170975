package wiretrace

import "time"

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event, in the order a connection produces them.
const (
	// KindConnect: the transport connected to Remote (or failed to: Err).
	KindConnect EventKind = "connect"
	// KindRecord: one TLS record crossed the transport.
	KindRecord EventKind = "record"
	// KindClose: the transport was closed; Note says what was left
	// unfinished (a record cut short).
	KindClose EventKind = "close"
)

// Event is one line of a trace.
type Event struct {
	Kind EventKind `json:"event"`
	// At is the time since the dial began.
	At time.Duration `json:"-"`
	// MS is At in milliseconds, for JSON.
	MS float64 `json:"ms"`
	// Local and Remote are the transport's addresses (KindConnect).
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote,omitempty"`
	// Err is a failed dial's error.
	Err string `json:"error,omitempty"`
	// Record is the record, for KindRecord.
	*Record
	// Note says more: why a record was not decoded, what was cut short.
	Note string `json:"note,omitempty"`
}

// Record is one TLS record as it crossed the transport, decoded as far as
// the bytes and the keys at hand allow.
type Record struct {
	// Dir is "sent" (client to server) or "received".
	Dir string `json:"dir"`
	// Epoch is "plaintext", "handshake" (protected, before the
	// direction's Finished), "application", or "protected" when the
	// record is protected and the keys to tell which epoch are missing.
	Epoch string `json:"epoch"`
	// Type is the content type of the record header (in TLS 1.3 every
	// protected record says application_data); Len, the header's length
	// field, the bytes that followed the header on the wire.
	Type string `json:"type"`
	Len  int    `json:"len"`
	// Inner is the true content type of a decrypted TLS 1.3 record, and
	// Plaintext the length of its content (padding removed). Both are
	// empty when the record was not decrypted.
	Inner     string `json:"inner,omitempty"`
	Plaintext int    `json:"plaintext,omitempty"`
	// Messages are the handshake messages, or the parts of them, that the
	// record carries.
	Messages []Message `json:"messages,omitempty"`
	// Alert is the alert the record carries.
	Alert *Alert `json:"alert,omitempty"`
	// Data is the application data the record carries, when decrypted.
	Data int `json:"data,omitempty"`
}

// Message is a handshake message, or the part of one that a record
// carries.
type Message struct {
	Code uint8  `json:"code"`
	Name string `json:"name"`
	// Len is the message body's length (its header says it).
	Len int `json:"len"`
	// Offset and Here say which bytes of the message's 4-byte header and
	// body this record carries, when not all of them.
	Offset int `json:"offset,omitempty"`
	Here   int `json:"here,omitempty"`
	// Part is "first", "middle" or "last" for a message split across
	// records, empty for one whole in this record.
	Part string `json:"part,omitempty"`
	// Fields and Extensions are what the message says, once whole.
	Fields     []Field     `json:"fields,omitempty"`
	Extensions []Extension `json:"extensions,omitempty"`
	// Note says why the message was not decoded (malformed, too long).
	Note string `json:"note,omitempty"`
}

// Field is one decoded value of a message, such as its cipher suite.
type Field struct {
	Name  string   `json:"name"`
	Value string   `json:"value"`
	List  []string `json:"list,omitempty"`
}

// Extension is one decoded extension of a hello or EncryptedExtensions.
type Extension struct {
	Code uint16 `json:"code"`
	Name string `json:"name"`
	Len  int    `json:"len"`
	// Value is the decoded value for people; List its items (versions,
	// groups, protocols, algorithms); Number its one number (the
	// max_fragment_length in bytes, the record_size_limit, the selected
	// version).
	Value  string   `json:"value,omitempty"`
	List   []string `json:"list,omitempty"`
	Number int      `json:"number,omitempty"`
}

// Alert is a decoded alert.
type Alert struct {
	Level       string `json:"level"`
	Description string `json:"description"`
	Code        uint8  `json:"code"`
}
