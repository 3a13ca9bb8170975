// Package bench measures tlsapp against crypto/tls and plain utls, side by
// side in one process: throughput at each record limit, heap per
// connection, allocations in steady state, handshake bytes on the wire, the
// flash a minimal client needs, and a download over an emulated cellular
// link (BenchmarkLink: negotiated limits against 16 KiB records and the
// Range workaround), and what an HTTPS server behind tlsapp.NewListener
// costs at fleet scale against the same server on crypto/tls and nginx
// (BenchmarkServerIdle: heap and RSS per idle connection; BenchmarkServerCPU:
// CPU seconds per GiB served), each server a process of its own.
//
//	go test -run '^$' -bench . ./bench/                  # everything
//	go test -run '^$' -bench . -benchtime=1x ./bench/    # the CI smoke run
//	go run ./bench/size                                  # binary sizes, three targets
//	go test -run '^$' -bench Link -benchtime 1x ./bench/ -link  # cellular links, ~8 min
//	go test -run '^$' -bench 'Server(Idle|CPU)' -benchtime 1x ./bench/ -fleet  # server cost, ~3 min
//	go run ./bench/report                                # BENCHMARKS.md and bench/chart.png
//
// The package holds only tests and benchmarks; bench/internal/flash builds
// and inspects the minimal clients under bench/size/internal.
package bench
