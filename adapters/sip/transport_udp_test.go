//go:build linux

package sip

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The UDP socket gets the receive buffer asked for: Linux's default holds
// about a hundred datagrams, which a busy server overflows (the peers then
// retransmit after 500 ms).
func TestUDPReadBuffer(t *testing.T) {
	for _, size := range []int{DefaultUDPReadBuffer, 1 << 20} {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got, err := setReadBuffer(c, size)
		want := size
		if os.Geteuid() != 0 { // not forced: the system's limit applies
			want = min(size, rmemMax(t))
		}
		if got < want {
			t.Errorf("asked %d bytes: the socket has %d (err %v), want %d", size, got, err, want)
		}
		c.Close()
	}
}

// The adapter's own UDP socket has the default.
func TestAdapterUDPReadBuffer(t *testing.T) {
	h := newHarness(t, "", nil)
	raw, err := h.ad.udp.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var reported int
	if err := raw.Control(func(fd uintptr) {
		reported, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil {
		t.Fatal(err)
	}
	want := DefaultUDPReadBuffer
	if os.Geteuid() != 0 {
		want = min(want, rmemMax(t))
	}
	if got := readBufferSize(reported); got < want {
		t.Fatalf("the adapter's UDP socket has a %d-byte receive buffer, want %d", got, want)
	}
}

func rmemMax(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
