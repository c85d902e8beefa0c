package loadkit

import (
	"os/exec"
	"syscall"
)

// endWithParent has the kernel send the child SIGTERM when the tool dies.
func endWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}
