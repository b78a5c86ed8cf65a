package bench

import "syscall"

// childProcAttr makes the serve child die with this process (a bench killed
// by a signal leaves no server behind).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
