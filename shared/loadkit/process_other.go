//go:build !linux

package loadkit

import "os/exec"

// endWithParent does nothing where the system cannot tie a child's life
// to its parent's; the tool stops the child itself on a normal exit.
func endWithParent(*exec.Cmd) {}
