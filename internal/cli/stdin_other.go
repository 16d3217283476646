//go:build !unix

package cli

import "io"

// pollable returns in unchanged: the poller's pipes are a Unix matter.
func pollable(in io.Reader) io.Reader { return in }
