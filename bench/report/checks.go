package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Checks looks for figures of the run that cannot be right, or that a
// verdict hangs on, and says why in one line each.
func Checks(r *Results) []string {
	var out []string
	for _, dir := range []string{"Download", "Upload"} {
		for _, p := range transferPairs(r, dir) {
			out = append(out, baselineChecks(r, dir, p)...)
		}
	}
	out = append(out, recordSizeChecks(r)...)
	// The limit must have been in force: a record may carry at most 256
	// bytes of protection over the limit (RFC 8449, TLS 1.2).
	for _, dir := range []string{"Download", "Upload"} {
		unit := "max-record-recv-B"
		if dir == "Upload" {
			unit = "max-record-sent-B"
		}
		for _, p := range transferPairs(r, dir) {
			for _, l := range limitOrder[:len(limitOrder)-1] {
				v, ok := r.Get(transferName(dir, p, l, tlsappName), unit)
				n, _ := strconv.Atoi(strings.TrimPrefix(l, "limit="))
				if ok && v > float64(n+256) {
					out = append(out, fmt.Sprintf("%s, %s, limit %d: tlsapp saw a %g-byte record: the limit was not in force.", dir, pairLabel(p), n, v))
				}
			}
		}
	}
	// Memory: the peak cannot be below what is retained afterwards.
	for _, n := range r.Names {
		if !strings.HasPrefix(n, "ConnMemory/") {
			continue
		}
		peak, ok1 := r.Get(n, "peak-B/conn")
		kept, ok2 := r.Get(n, "retained-B/conn")
		if ok1 && ok2 && peak < kept {
			out = append(out, fmt.Sprintf("%s: peak %s per connection is below the %s retained: the 200 µs sampler missed the peak; read the peak column as a lower bound.",
				n, kib(peak), kib(kept)))
		}
	}
	out = append(out, peakCheck(r)...)
	if base, ok := r.Get(memName(noLimit, stdName), "retained-B/conn"); ok {
		if same, ok := r.Get(memName(limit2048, stdName), "retained-B/conn"); ok && same < base {
			out = append(out, fmt.Sprintf("Heap: crypto/tls retains %s per idle connection with 16 KiB records and %s when the server caps its records at 2048 bytes, "+
				"which crypto/tls cannot ask a server for; the heap target is judged against the first.", kib(base), kib(same)))
		}
	}
	// The certcomp server compresses for a client that offers zstd.
	if comp, ok := r.Get("HandshakeBytes/tls13/certcomp/"+tlsappName, "s2c-B"); ok {
		if plain, ok := r.Get("HandshakeBytes/tls13/certcomp/tlsapp-nocomp", "s2c-B"); ok && plain-comp < 16 {
			out = append(out, fmt.Sprintf("Certificate compression: offering it saved %g B (%g B with, %g B without): the server did not compress, "+
				"so the certcomp row shows no compression at all.", plain-comp, comp, plain))
		}
	}
	return out
}

// baselineChecks flags a crypto/tls 16 KiB baseline that looks mis-measured:
// slower than crypto/tls with smaller records, far from utls (the fork of
// crypto/tls it is measured beside), or spread widely over its samples.
func baselineChecks(r *Results, dir string, p pair) []string {
	var out []string
	name := transferName(dir, p, noLimit, stdName)
	base, ok := r.Get(name, "MB/s")
	if !ok || base == 0 {
		return nil
	}
	where := fmt.Sprintf("%s, %s", dir, pairLabel(p))
	for _, l := range limitOrder[:len(limitOrder)-1] {
		if v, ok := r.Get(transferName(dir, p, l, stdName), "MB/s"); ok && v > 1.10*base {
			out = append(out, fmt.Sprintf("%s: the crypto/tls 16 KiB baseline (%.0f MB/s) is slower than crypto/tls at %s (%.0f MB/s, %.2f×); "+
				"larger records should not be slower, so the baseline looks low and flatters every ratio of that row.",
				where, base, limitLabel(l), v, v/base))
			break
		}
	}
	if u, ok := r.Get(transferName(dir, p, noLimit, utlsName), "MB/s"); ok && (u > 1.25*base || u < 0.8*base) {
		out = append(out, fmt.Sprintf("%s: utls with 16 KiB records runs at %.2f× crypto/tls (%.0f against %.0f MB/s); utls's record layer is a fork of "+
			"crypto/tls's, so a gap that wide says one of the two baselines is off (noise, or the machine busy while it ran).", where, u/base, u, base))
	}
	if vs := r.Values(name, "MB/s"); len(vs) > 1 {
		lo, hi := slices.Min(vs), slices.Max(vs)
		if lo > 0 && hi/lo > 1.25 {
			out = append(out, fmt.Sprintf("%s: the crypto/tls 16 KiB baseline spread from %.0f to %.0f MB/s over %d samples (median %.0f).",
				where, lo, hi, len(vs), base))
		}
	}
	return out
}

// recordSizeChecks says, when a throughput target is missed, how much of
// the gap crypto/tls itself shows at the same record size, and how tlsapp
// compares with the utls it is built on there.
func recordSizeChecks(r *Results) []string {
	var out []string
	for _, dir := range []string{"Download", "Upload"} {
		stdLo, stdHi := math.Inf(1), math.Inf(-1)
		appLo, appHi := math.Inf(1), math.Inf(-1)
		missed := false
		for _, p := range transferPairs(r, dir) {
			if rt, _, _, ok := transferRatio(r, dir, p, limit2048, stdName); ok {
				stdLo, stdHi = math.Min(stdLo, rt), math.Max(stdHi, rt)
			}
			rt, _, _, counted := transferRatio(r, dir, p, limit2048, tlsappName)
			if !counted {
				continue // not part of the verdict
			}
			if rt < throughputBound {
				missed = true
			}
			a, ok1 := r.Get(transferName(dir, p, limit2048, tlsappName), "MB/s")
			u, ok2 := r.Get(transferName(dir, p, limit2048, utlsName), "MB/s")
			if ok1 && ok2 && u > 0 {
				appLo, appHi = math.Min(appLo, a/u), math.Max(appHi, a/u)
			}
		}
		if !missed || math.IsInf(stdLo, 0) || stdLo >= throughputBound {
			continue
		}
		msg := fmt.Sprintf("%s: crypto/tls itself reaches only %.2f–%.2f× its 16 KiB figure with 2048-byte records", dir, stdLo, stdHi)
		if !math.IsInf(appLo, 0) {
			msg += fmt.Sprintf(", and tlsapp runs at %.2f–%.2f× plain utls at 2048", appLo, appHi)
		}
		if appLo >= 0.9 {
			msg += ": most of the gap to the target is the record size, not the library. "
		} else {
			msg += ": the record size explains part of the gap, the library the rest. "
		}
		if dir == "Download" {
			msg += "The server runs in the benchmark's process, on the same CPUs, so its own work per record counts against every client."
		} else {
			msg += "tlsapp splits 32 KiB writes into 2048-byte records sent in one transport write; crypto/tls and utls, which cannot be told a " +
				"record size, are handed 2048-byte writes, one record and one transport write each. The server, in the same process, " +
				"decrypts 8 records where the baseline decrypts one."
		}
		out = append(out, msg)
	}
	return out
}

// peakCheck notes limits where tlsapp's peak heap is above crypto/tls's
// while what it retains is below: its extra memory is transient.
func peakCheck(r *Results) []string {
	lo, hi := math.Inf(1), math.Inf(-1)
	var at []string
	for _, l := range limitOrder[:len(limitOrder)-1] {
		ap, ok1 := r.Get(memName(l, tlsappName), "peak-B/conn")
		sp, ok2 := r.Get(memName(l, stdName), "peak-B/conn")
		ar, ok3 := r.Get(memName(l, tlsappName), "retained-B/conn")
		sr, ok4 := r.Get(memName(l, stdName), "retained-B/conn")
		if ok1 && ok2 && ok3 && ok4 && sp > 0 && ap > sp && ar < sr {
			lo, hi = math.Min(lo, ap/sp), math.Max(hi, ap/sp)
			at = append(at, limitLabel(l))
		}
	}
	if len(at) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Heap: at limits %s tlsapp's peak per connection is above crypto/tls's (%.2f–%.2f×) while it retains less: "+
		"its extra memory is held only during handshakes and transfers, and a device sized for the peak gains less than the idle figures say.",
		strings.Join(at, ", "), lo, hi)}
}
