package recordlimit

import "testing"

// TestContentType checks the four content types of TLS 1.2 and 1.3 and the
// values on either side of them.
func TestContentType(t *testing.T) {
	tests := []struct {
		t     ContentType
		known bool
		str   string
	}{
		{0, false, "content_type(0)"},
		{19, false, "content_type(19)"},
		{TypeChangeCipherSpec, true, "change_cipher_spec"},
		{TypeAlert, true, "alert"},
		{TypeHandshake, true, "handshake"},
		{TypeApplicationData, true, "application_data"},
		{24, false, "content_type(24)"}, // heartbeat (RFC 6520): not used
		{255, false, "content_type(255)"},
	}
	for _, tt := range tests {
		if got := tt.t.Known(); got != tt.known {
			t.Errorf("ContentType(%d).Known() = %v, want %v", uint8(tt.t), got, tt.known)
		}
		if got := tt.t.String(); got != tt.str {
			t.Errorf("ContentType(%d).String() = %q, want %q", uint8(tt.t), got, tt.str)
		}
	}
}
