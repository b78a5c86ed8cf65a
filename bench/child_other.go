//go:build !linux

package bench

import "syscall"

// childProcAttr: only Linux can tie the child's life to this process.
func childProcAttr() *syscall.SysProcAttr { return nil }
