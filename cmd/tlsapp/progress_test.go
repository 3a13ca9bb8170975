package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressLine: the line gives what is held, of what, the rate of this
// run and, after a second, the time left at that rate.
func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		done, total, moved int64
		elapsed            time.Duration
		want               string
	}{
		{1 << 20, 4 << 20, 1 << 20, 2 * time.Second, "  downloading  1.0 MiB of 4.0 MiB (25%), 512.0 KiB/s, 0:06 left"},
		{3 << 20, 4 << 20, 1 << 20, 2 * time.Second, "  downloading  3.0 MiB of 4.0 MiB (75%), 512.0 KiB/s, 0:02 left"}, // resumed from 2 MiB
		{1 << 20, 4 << 20, 1 << 20, 500 * time.Millisecond, "  downloading  1.0 MiB of 4.0 MiB (25%), 2.0 MiB/s"},       // too early to tell
		{1 << 20, -1, 1 << 20, 2 * time.Second, "  downloading  1.0 MiB, 512.0 KiB/s"},                                  // size unknown
		{10 << 20, 1 << 30, 10 << 20, 10 * time.Second, "  downloading  10.0 MiB of 1024.0 MiB (0%), 1.0 MiB/s, 16:54 left"},
		{100 << 20, 8 << 30, 100 << 20, 100 * time.Second, "  downloading  100.0 MiB of 8192.0 MiB (1%), 1.0 MiB/s, 2:14:52 left"},
	} {
		if got := progressLine(tc.done, tc.total, tc.moved, tc.elapsed); got != tc.want {
			t.Errorf("progressLine(%d, %d, %d, %v)\n got %q\nwant %q", tc.done, tc.total, tc.moved, tc.elapsed, got, tc.want)
		}
	}
}

// TestProgressTerminal runs get on a terminal (script(1) gives it one):
// the progress line is drawn there, with the time left; -s draws nothing
// and prints no summary; on a pipe nothing is drawn.
func TestProgressTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is missing: it gives get a terminal")
	}
	body, _ := randomBody(2 << 20)
	im := &image{delay: 20 * time.Millisecond} // 32 KiB (ServeContent's reads) each 20 ms: a run of 1.3 s
	im.set(body, `"fw-1"`)
	base, ca := httpsServer(t, im)
	onTTY := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		line := binPath + " " + strings.Join(args, " ")
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, script, "-qefc", line, "/dev/null")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out.String())
		}
		return out.String()
	}
	out := onTTY("get", "--ca", ca, "-o", filepath.Join(t.TempDir(), "fw.bin"), base+"/fw.bin")
	if !strings.Contains(out, "\r\x1b[K  downloading  ") || !strings.Contains(out, "of 2.0 MiB (") || !strings.Contains(out, " left") {
		t.Errorf("no progress line with the time left on a terminal:\n%q", out)
	}
	if !strings.Contains(out, "tlsapp get: done") {
		t.Errorf("no summary on a terminal:\n%q", out)
	}
	out = onTTY("get", "-s", "--ca", ca, "-o", filepath.Join(t.TempDir(), "fw.bin"), base+"/fw.bin")
	if strings.Contains(out, "downloading") || strings.Contains(out, "tlsapp get") {
		t.Errorf("get -s printed on a terminal:\n%q", out)
	}
	r := runBin(t, "get", "--ca", ca, "-o", filepath.Join(t.TempDir(), "fw.bin"), base+"/fw.bin")
	if r.code != 0 || strings.Contains(r.stderr, "downloading") || strings.Contains(r.stderr, "\r") {
		t.Errorf("on a pipe: status %d, stderr %q", r.code, r.stderr)
	}
}
