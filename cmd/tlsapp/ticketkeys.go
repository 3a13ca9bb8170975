package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/tlsapp/tlsapp/ticketkey"
)

// reloadTicketKeys rereads ring's file on SIGHUP and, when poll is above
// zero, whenever the file changes (checked every poll), until ctx is done;
// it logs each reload on log in one line. A bad file keeps the keys loaded
// before, and says so. The returned function stops both and waits for them.
// SIGHUP is caught from the call on, so that it no longer ends the process.
func reloadTicketKeys(ctx context.Context, ring *ticketkey.Ring, poll time.Duration, log io.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	var mu sync.Mutex // one line at a time from both goroutines
	logReload := func(why string, err error) {
		var line string
		now := time.Now().UTC().Format(time.RFC3339)
		if err != nil {
			line = fmt.Sprintf("%s ticket keys not reloaded (%s), keeping the %d loaded before: %v\n", now, why, ring.Len(), err)
		} else {
			line = fmt.Sprintf("%s ticket keys reloaded (%s): %s\n", now, why, describeTicketKeys(ring))
		}
		mu.Lock()
		io.WriteString(log, line)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logReload("SIGHUP", ring.Reload())
			}
		}
	}()
	if poll > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ring.Watch(ctx, poll, func(err error) { logReload("file changed", err) })
		}()
	}
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

// describeTicketKeys says how many keys ring holds and names the one that
// seals (names are not secret: every ticket carries one).
func describeTicketKeys(ring *ticketkey.Ring) string {
	names := ring.Names()
	if len(names) == 0 {
		return "no keys"
	}
	keys := "keys"
	if len(names) == 1 {
		keys = "key"
	}
	return fmt.Sprintf("%d %s from %s, sealing with key %s", len(names), keys, ring.Path(), names[0])
}
