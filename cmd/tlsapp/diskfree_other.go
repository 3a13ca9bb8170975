//go:build !(linux || darwin || freebsd)

package main

// diskFree returns -1: this system's free space is not looked up.
func diskFree(string) int64 { return -1 }
