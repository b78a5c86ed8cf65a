package sip

import (
	"errors"
	"net"
	"syscall"
)

// setReadBuffer sets the receive buffer of c to size bytes: forced past
// the system's limit where the process may (SO_RCVBUFFORCE, Linux, with
// CAP_NET_ADMIN), else as far as the limit allows. It returns the size the
// socket then has, as the application sees it (Linux reserves twice as
// much for its bookkeeping and reports that: half is given here).
func setReadBuffer(c net.PacketConn, size int) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		if forceReadBuffer(fd, size) != nil {
			sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}
		got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return readBufferSize(got), errors.Join(err, sockErr)
}
