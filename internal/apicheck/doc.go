// Package apicheck lists the exported API of the module's public packages,
// one declaration a line, the way Go's own api/*.txt files do, and checks
// that no exported declaration names a type of a dependency the module
// keeps internal (utls).
//
// The list is kept in api.txt at the top of the module. The test in this
// package fails when the list and the code differ, so that every change of
// the public API shows up in review as a diff of api.txt; after a deliberate
// change, regenerate it with
//
//	go test ./internal/apicheck -update
package apicheck
