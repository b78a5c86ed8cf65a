package sip

import "syscall"

// forceReadBuffer sets SO_RCVBUFFORCE, which passes net.core.rmem_max
// (it needs CAP_NET_ADMIN).
func forceReadBuffer(fd uintptr, size int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
}

// readBufferSize is the size asked for that gives the SO_RCVBUF Linux
// reports: it reports twice the size asked.
func readBufferSize(reported int) int { return reported / 2 }
