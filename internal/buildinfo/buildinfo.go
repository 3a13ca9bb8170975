// Package buildinfo says which version of this module a binary holds, the
// one source for the tool's --version and the download package's
// User-Agent.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Module is this module's path.
const Module = "github.com/tlsapp/tlsapp"

// Version returns the version of this module in the running binary, as the
// go command recorded it: a release (v1.2.3) or pseudo-version when the
// module was built as a dependency or from a tagged checkout, or "devel"
// when it carries none. It is an HTTP token: letters, digits and -.+_ only.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	v := ""
	if bi.Main.Path == Module {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == Module {
			v = d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.+_", r)) {
			return r
		}
		return '_'
	}, v)
}
