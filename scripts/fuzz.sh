#!/usr/bin/env bash
# Runs every fuzz target of the module for a given time each and reports how
# long each ran clean.
#
#   scripts/fuzz.sh            # 20s per target
#   scripts/fuzz.sh 10m        # longer
#   scripts/fuzz.sh 60s ./fuzz # only the targets of one package
#
# FUZZ_PARALLEL sets go test's -parallel (fuzzing workers; default GOMAXPROCS).
# A failing input is written by go test under the package's testdata/fuzz/
# and the script exits 1 after running the remaining targets.
set -u
cd "$(dirname "$0")/.."

dur=${1:-20s}
shift || true
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./recordlimit ./internal/wire ./internal/guard ./internal/wiretrace ./fuzz ./credstore ./download ./ticketkey ./edge)
fi
par=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then
	par=(-parallel "$FUZZ_PARALLEL")
fi

failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
for pkg in "${pkgs[@]}"; do
	targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	if [ -z "$targets" ]; then
		echo "fuzz.sh: no fuzz targets in $pkg" >&2
		failed=1
		continue
	fi
	for t in $targets; do
		echo "=== $pkg $t for $dur"
		start=$(date +%s)
		verdict="FAILED"
		for try in 1 2; do
			seeds="$pkg/testdata/fuzz/$t"
			before=$(ls "$seeds" 2>/dev/null | wc -l)
			if go test -run='^$' -fuzz="^${t}\$" -fuzztime="$dur" "${par[@]}" "$pkg" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
				verdict="ran clean"
				[ "$try" -eq 2 ] && verdict="ran clean on the second try"
				break
			fi
			# Go 1.26's fuzz coordinator can fail a target at the end of
			# -fuzztime with "context deadline exceeded" and no failing
			# input (golang/go#75804). That, and only that, is tried again.
			after=$(ls "$seeds" 2>/dev/null | wc -l)
			if [ "$after" -ne "$before" ] || ! grep -q '^    context deadline exceeded$' "$log"; then
				break
			fi
			echo "fuzz.sh: $t ended with the coordinator's deadline race (golang/go#75804) and wrote no input; trying again"
		done
		[ "$verdict" = "FAILED" ] && failed=1
		secs=$(($(date +%s) - start))
		summary+=("$(printf '%-16s %-32s %-9s %4ds (fuzztime %s)' "$pkg" "$t" "$verdict" "$secs" "$dur")")
	done
done

echo
echo "fuzz.sh summary:"
printf '%s\n' "${summary[@]}"
exit $failed
