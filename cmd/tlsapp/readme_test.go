package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExitStatuses: the README's table of exit statuses is the one
// 'tlsapp help exit-codes' prints, row for row, and names every curl
// spelling get takes.
func TestReadmeExitStatuses(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, table, ok := strings.Cut(readme, "| status | curl's | meaning |\n|--:|:-:|---|\n")
	if !ok {
		t.Fatal("README.md has no table of exit statuses")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	var want []string
	for _, d := range exitDocs {
		want = append(want, exitRow(d))
	}
	if got := strings.Split(table, "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README.md's exit statuses differ from exitDocs; want:\n%s", strings.Join(want, "\n"))
	}
	for _, spelling := range []string{"`-o FILE`, `--output FILE`", "`-O`, `--remote-name`", "`-C -`, `--continue-at -`",
		"`--retry N`", "`-s`, `--silent`", "`-v`, `--verbose`", "`-H`, `--header 'NAME: VALUE'`", "`-f`, `--fail`",
		"`--cacert FILE`", "`--connect-timeout S`", "`-m S`, `--max-time S`"} {
		if !strings.Contains(readme, "| "+spelling+" |") {
			t.Errorf("README.md's table of curl's spellings lacks %s", spelling)
		}
	}
}
