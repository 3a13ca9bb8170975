package download_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/httpscript"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// TestStreamRestartHoldingNothing: a ranged Stream whose first answer is
// cut before its first body byte asks again with If-Range; a 206 that
// shows another validator, or none, may be of another representation,
// and since the stream holds nothing yet it starts over instead of
// failing. The restart event says which field failed to match.
func TestStreamRestartHoldingNothing(t *testing.T) {
	v := random(t, 1000)
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	byETag := httpscript.Resource{Body: v, Header: []hdr{etagH(`"A"`)}}
	byDate := httpscript.Resource{Body: v, Header: []hdr{lastModH(t0), dateH(t0.Add(time.Hour))}}
	for _, tc := range []struct {
		name   string
		rs     httpscript.Resource
		lie    lie
		reason string
	}{
		{"another ETag", byETag, setH("ETag", `"B"`), `ETag "A" became "B"`},
		{"no ETag", byETag, delH("ETag"), `does not show that ETag`},
		{"no Last-Modified", byDate, delH("Last-Modified"), `does not show that Last-Modified`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httpscript.Start(t, httpscript.Lie(tc.rs, map[int]lie{
				0: cutAt(0),
				1: tc.lie,
			}))
			var ev events
			opt := download.Options{
				Dialer:  &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: srv.Pool()}},
				Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
				RangeChunk: 600, Event: ev.add,
			}
			var out bytes.Buffer
			res, err := download.Stream(context.Background(), srv.URL("/fw.bin"), &out, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), v) || res.Restarts != 1 {
				t.Errorf("%d bytes written, %d restarts; want the 1000 and 1", out.Len(), res.Restarts)
			}
			var restarts []download.Event
			for _, e := range ev.all {
				if e.Kind == download.EventRestart {
					restarts = append(restarts, e)
				}
			}
			if len(restarts) != 1 || restarts[0].Offset != 0 || !strings.HasSuffix(restarts[0].Reason, tc.reason) {
				t.Errorf("restart events %+v, want one at 0 saying %s", restarts, tc.reason)
			}
			var ranges []string
			for _, r := range srv.Requests() {
				ranges = append(ranges, r.Header.Get("Range"))
			}
			if want := "bytes=0-599 bytes=0-599 bytes=0-599 bytes=600-999"; strings.Join(ranges, " ") != want {
				t.Errorf("ranges %q, want %s", ranges, want)
			}
		})
	}
}
