#!/usr/bin/env bash
# Mutation testing with gremlins v0.6.0: plants one small bug at a time
# (a comparison negated or moved by one, + for -, ++ for --) in a package,
# runs its tests, and counts the bugs they noticed. Not part of CI: a
# package takes from minutes to hours (its whole test suite runs once per
# mutant).
#
#   scripts/mutation.sh                      # every package below
#   scripts/mutation.sh ./download ./probe   # some of them
#   MUTATION_WORKERS=2 scripts/mutation.sh   # more parallel test runs
#
# Environment:
#   MUTATION_WORKERS      gremlins --workers (default 1: a shared machine)
#   MUTATION_THRESHOLD    the efficacy a package must reach (default 90);
#                         credstore is reported only, whatever its figure
#   MUTATION_TIMEOUT_COEF gremlins --timeout-coefficient (default 10): a
#                         mutant's tests may run this many times as long as
#                         the unmutated ones; a busy machine needs room
#   MUTATION_OUT          folder for each package's output and JSON
#                         (default a temporary one, printed at the end)
#
# The tests run with -count=1 (so that the first, timed run is not a cached
# one and the timeout means something) and -vet=off (a vet complaint about
# a mutant is not a test noticing it). Efficacy is killed / (killed +
# lived); timed-out mutants count in neither, and the summary shows them.
# The script exits 1 if a package with a threshold is below it, 2 if
# gremlins failed on a package.
set -u
cd "$(dirname "$0")/.."

version=v0.6.0
gremlins=$(command -v gremlins || true)
if [ -z "$gremlins" ] && [ -x "$(go env GOPATH)/bin/gremlins" ]; then
	gremlins=$(go env GOPATH)/bin/gremlins
fi
# gremlins --version says "dev" when go install built it: ask the binary's
# build information instead.
if [ -z "$gremlins" ] || ! go version -m "$gremlins" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]].*gremlins[[:space:]]*$version"; then
	echo "mutation.sh: installing gremlins $version"
	go install "github.com/go-gremlins/gremlins/cmd/gremlins@$version" || exit 2
	gremlins=$(go env GOPATH)/bin/gremlins
fi

workers=${MUTATION_WORKERS:-1}
threshold=${MUTATION_THRESHOLD:-90}
coef=${MUTATION_TIMEOUT_COEF:-10}
out=${MUTATION_OUT:-$(mktemp -d)}
mkdir -p "$out"

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./internal/guard ./recordlimit ./internal/wire ./download ./probe ./credstore)
fi

# reportOnly reports whether a package's figure is not held to the
# threshold.
reportOnly() { [ "$1" = ./credstore ]; }

failed=0
summary=()
for pkg in "${pkgs[@]}"; do
	name=$(echo "${pkg#./}" | tr / _)
	echo "=== $pkg (workers $workers, timeout coefficient $coef)"
	start=$(date +%s)
	GOFLAGS="${GOFLAGS:-} -count=1 -vet=off" "$gremlins" unleash --workers "$workers" \
		--timeout-coefficient "$coef" -o "$out/$name.json" "$pkg" 2>&1 | tee "$out/$name.txt"
	status=${PIPESTATUS[0]}
	secs=$(($(date +%s) - start))
	count() { grep -c "^ *$1 " "$out/$name.txt"; }
	killed=$(count KILLED) lived=$(count LIVED) timedout=$(count "TIMED OUT") notcov=$(count "NOT COVERED")
	eff=$(grep -m1 '^Test efficacy:' "$out/$name.txt" | awk '{print $3}')
	cov=$(grep -m1 '^Mutator coverage:' "$out/$name.txt" | awk '{print $3}')
	verdict=ok
	if [ "$status" -ne 0 ] || [ -z "$eff" ]; then
		verdict="gremlins failed ($status)"
		failed=2
	elif reportOnly "$pkg"; then
		verdict="report only"
	elif awk -v e="${eff%\%}" -v t="$threshold" 'BEGIN { exit !(e < t) }'; then
		verdict="BELOW $threshold%"
		[ "$failed" -eq 0 ] && failed=1
	fi
	summary+=("$(printf '%-18s killed %4s lived %4s timed out %4s not covered %4s efficacy %8s coverage %8s %5ds  %s' \
		"$pkg" "$killed" "$lived" "$timedout" "$notcov" "${eff:-?}" "${cov:-?}" "$secs" "$verdict")")
	grep '^ *LIVED ' "$out/$name.txt" | sed "s|^ *|    $pkg: |" >"$out/$name.lived"
done

echo
echo "=== mutation summary (gremlins $version, output in $out)"
printf '%s\n' "${summary[@]}"
for pkg in "${pkgs[@]}"; do
	name=$(echo "${pkg#./}" | tr / _)
	if [ -s "$out/$name.lived" ]; then
		echo "--- survivors in $pkg (each needs a test, or a line in TESTING.md saying why it cannot have one)"
		cat "$out/$name.lived"
	fi
done
exit $failed
