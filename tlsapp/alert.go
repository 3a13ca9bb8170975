package tlsapp

import (
	"errors"
	"fmt"
	"net"
	"reflect"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// AlertError reports the fatal TLS alert that ended a connection: which
// alert, and whether the server sent it (Remote) or this client did (the
// TLS stack, or the record layer guard). Callers find it with errors.As;
// Err is what the stack or the guard reported, so that errors.Is still
// matches recordlimit's sentinels.
type AlertError struct {
	Alert  recordlimit.Alert
	Remote bool
	Err    error
}

func (e *AlertError) Error() string {
	who := "sent"
	if e.Remote {
		who = "received"
	}
	return fmt.Sprintf("tlsapp: %s alert %v: %v", who, e.Alert, e.Err)
}

// Unwrap returns Err.
func (e *AlertError) Unwrap() error { return e.Err }

// utlsPkg is the import path of the TLS stack, whose alert type is
// unexported.
var utlsPkg = reflect.TypeFor[utls.AlertError]().PkgPath()

// stackAlert reads the alert from an error of the TLS stack: utls reports
// an alert it received or sent as a *net.OpError (Op "remote error" or
// "local error") whose Err is its unexported alert type, a uint8. The
// guard sees the handshake's alerts on the wire itself; this is for those
// under the application traffic keys, which only the stack can read.
func stackAlert(err error) (recordlimit.Alert, bool, bool) {
	var ae utls.AlertError
	if errors.As(err, &ae) {
		return recordlimit.Alert(ae), false, true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Err == nil || (op.Op != "remote error" && op.Op != "local error") {
		return 0, false, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 || v.Type().PkgPath() != utlsPkg {
		return 0, false, false
	}
	return recordlimit.Alert(v.Uint()), op.Op == "remote error", true
}
