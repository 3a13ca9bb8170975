// Command report runs the benchmarks of ./bench and writes what they found:
// BENCHMARKS.md at the root of the module (throughput, heap, allocations,
// handshake bytes and binary size, each against crypto/tls and utls; the
// server's cost against crypto/tls and nginx; and whether the run met each
// target) and bench/chart.png (RAM per connection and throughput against
// the record limit).
//
//	go run ./bench/report                                  # about 4 minutes a pass
//	go run ./bench/report -benchtime 1s -passes 3          # medians of 3 runs
//	go run ./bench/report -save out.txt                    # keep the raw output
//	go run ./bench/report -in out.txt                      # report again from saved output
//	go run ./bench/report -fleet                           # 5,000 idle server connections too
//
// Each pass is one `go test -run '^$' -bench . ./bench/`; the passes run one
// after the other so that a baseline and the run compared with it are
// measured close in time, and every figure is the median over the samples.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	benchtime := flag.String("benchtime", "1s", "passed to go test -benchtime")
	count := flag.Int("count", 1, "passed to go test -count")
	passes := flag.Int("passes", 1, "how many times to run go test; the samples of every pass are pooled")
	bench := flag.String("bench", ".", "passed to go test -bench")
	sizeTargets := flag.String("size.targets", "all", "platforms for BenchmarkBinarySize: all, or GOOS/GOARCH[/vGOARM],...")
	link := flag.Bool("link", false, "run BenchmarkLink over the emulated cellular links (about 8 minutes a pass)")
	edgeRun := flag.Bool("edge", false, "run BenchmarkEdge, the edge against nginx and crypto/tls (needs nginx-light; minutes a pass)")
	fleet := flag.Bool("fleet", false, "run BenchmarkServerIdle with 5,000 connections too (ulimit -n above 10,500)")
	in := flag.String("in", "", "comma-separated files of saved go test -bench output to report on instead of running the benchmarks")
	save := flag.String("save", "", "write the raw go test output to this file too")
	out := flag.String("o", "BENCHMARKS.md", "the report, relative to the module root")
	chart := flag.String("chart", "bench/chart.png", "the chart, relative to the module root")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("report: ")

	root, err := moduleRoot()
	if err != nil {
		log.Fatal(err)
	}
	meta := Meta{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		GoVersion: goVersion(root),
		NumCPU:    runtime.NumCPU(),
		Command:   commandLine(),
	}
	res := NewResults()
	var raw bytes.Buffer
	runErr := error(nil)
	if *in != "" {
		var runs []string
		for i, f := range strings.Split(*in, ",") {
			data, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			raw.Write(data)
			saved := readProvenance(data)
			if i == 0 && saved["command"] != "" {
				meta.Rendered = meta.Command
				meta.Command = saved["command"]
				meta.Date = saved["date"]
				meta.GoVersion = saved["go"]
			}
			if saved["run"] != "" {
				runs = append(runs, saved["run"])
			} else {
				runs = append(runs, "(read from "+f+")")
			}
		}
		meta.Runs = runs
	} else {
		args := []string{"test", "-run", "^$", "-bench", *bench, "-benchtime", *benchtime,
			"-count", strconv.Itoa(*count), "-timeout", "0", "./bench/", "-args", "-size.targets=" + *sizeTargets}
		if *link {
			args = append(args, "-link")
		}
		if *edgeRun {
			args = append(args, "-edge")
		}
		if *fleet {
			args = append(args, "-fleet")
		}
		shown := "go " + shellJoin(args)
		if *passes > 1 {
			shown += fmt.Sprintf("  (%d times, one after the other)", *passes)
		}
		meta.Runs = []string{shown}
		// Enough for -in to say how the saved output was made.
		fmt.Fprintf(&raw, "%scommand: %s\n%sdate: %s\n%sgo: %s\n%srun: %s\n",
			provenance, meta.Command, provenance, meta.Date, provenance, meta.GoVersion, provenance, shown)
		for i := 0; i < *passes; i++ {
			log.Printf("pass %d of %d: go %s", i+1, *passes, shellJoin(args))
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			w := io.MultiWriter(&raw, os.Stderr)
			cmd.Stdout, cmd.Stderr = w, w
			if err := cmd.Run(); err != nil {
				runErr = fmt.Errorf("pass %d: go test: %v", i+1, err)
				log.Print(runErr)
			}
		}
	}
	if *save != "" {
		if err := os.WriteFile(*save, raw.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if err := res.Parse(bytes.NewReader(raw.Bytes())); err != nil {
		log.Fatal(err)
	}
	if len(res.Names) == 0 {
		log.Fatal("no benchmark results")
	}

	verdicts := Evaluate(res)
	var md bytes.Buffer
	WriteMarkdown(&md, res, meta, verdicts, Checks(res))
	mdPath := inRoot(root, *out)
	if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	png, err := Chart(res, meta.Date)
	if err != nil {
		log.Fatal(err)
	}
	chartPath := inRoot(root, *chart)
	if err := os.WriteFile(chartPath, png, 0o644); err != nil {
		log.Fatal(err)
	}
	for _, v := range verdicts {
		log.Printf("%-12s %s", v.Status, v.Target)
	}
	log.Printf("wrote %s and %s", mdPath, chartPath)
	if runErr != nil {
		log.Fatal(runErr)
	}
}

// provenance starts the lines that -save writes ahead of the go test
// output, so that -in can say how that output was made.
const provenance = "# report-"

func readProvenance(data []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, provenance), ": "); ok && strings.HasPrefix(line, provenance) {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func goVersion(root string) string {
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func inRoot(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// commandLine is how this report was asked for.
func commandLine() string {
	return strings.TrimSpace("go run ./bench/report " + shellJoin(os.Args[1:]))
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$^*?[]\\|&;<>()`!#~{}") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
