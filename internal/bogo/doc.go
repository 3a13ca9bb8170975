// Package bogo runs BoringSSL's TLS test suite (BoGo) against tlsapp's
// client and server, through the shim in package bogo/shim, and holds
// nothing but that test and its config.
//
// BoGo's runner plays the peer: for each of its ~6,500 tests (about 4,100
// over TLS; the rest are DTLS and QUIC, which tlsapp does not speak) it
// starts the shim with flags that say what to configure and what to
// expect, and judges the connection from its side. TestBoGo builds the
// shim and the runner and makes four passes:
//
//   - a census of the tests the config disables (shim/config.json,
//     DisabledTests: each entry names why the test cannot pass for a
//     reason outside this project: a version, group, suite or feature
//     tlsapp deliberately lacks, something its API does not expose, or a
//     behaviour of utls or crypto/tls, which Go's own shim shows as well);
//   - run 1, every test, client and server;
//   - run 2, the client tests run 1 ran, with the client offering
//     record_size_limit 2048 and max_fragment_length 2048 on every
//     connection (the runner ignores both, so nothing may change);
//   - run 3, the same tests with a send limit (-max-send-fragment, which
//     the shim maps to Config.SendRecordLimit).
//
// It fails on any unexpected failure in any run, on a test that passed in
// run 1 and not in runs 2 or 3, on a disabled-test entry that matches no
// test, and on any test of testdata/crypto-tls-passes.txt (the 1,319 tests
// Go 1.26.8's crypto/tls shim passes) that neither passes nor is disabled.
// It prints the passed, failed, skipped (the shim exits 89: a flag it does
// not implement) and disabled counts of each run, and every crypto/tls
// test not passed, with its reason. As Go's harness does, it runs with
// -loose-errors: a test that must fail passes whatever the shim's error
// text says (BoringSSL's error codes have no counterpart in Go's errors),
// but the runner still checks the alert it receives; ErrorMap names the
// guard's own errors for a run without it.
//
// The runner is BoringSSL's ssl/test/runner at the commit Go 1.26's
// crypto/tls pins (f51d8b099832). TestBoGo finds the BoringSSL tree in
// $BOGO_RUNNER, else in shared/bogo/boringssl beside the module root or
// beside any directory above it (../shared/bogo/boringssl for a clone in
// /work/main). Without it the test skips, saying where to get it, unless
// CI is set: there it fails. BOGO_TESTS narrows the runs to the runner's
// -test patterns (semicolon-separated globs) while iterating; the
// crypto/tls accounting then only covers the tests run. The runner's Go
// module dependencies come from the module proxy on its first build.
package bogo
