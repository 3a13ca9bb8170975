package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"checkout", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}}, "devel"},
		{"tagged", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.4.0"}}, "v1.4.0"},
		{"pseudo, dirty", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.0.0-20260102030405-abcdef012345+dirty"}}, "v0.0.0-20260102030405-abcdef012345+dirty"},
		{"dependency", debug.BuildInfo{Main: debug.Module{Path: "example.com/fota"}, Deps: []*debug.Module{{Path: "golang.org/x/crypto", Version: "v0.58.0"}, {Path: Module, Version: "v1.2.3"}}}, "v1.2.3"},
		{"replaced", debug.BuildInfo{Main: debug.Module{Path: "example.com/fota"}, Deps: []*debug.Module{{Path: Module, Version: "v1.2.3", Replace: &debug.Module{Path: "../tlsapp"}}}}, "devel"},
		{"not in the binary", debug.BuildInfo{Main: debug.Module{Path: "example.com/fota"}}, "devel"},
		{"not a token", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1 (x)/y"}}, "v1__x__y"},
	} {
		if got := versionOf(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if v := Version(); v == "" {
		t.Error("Version is empty")
	}
}
