package sip

import (
	"net"
	"strings"
	"testing"
	"time"
)

// An OPTIONS sent again with the same branch within TransactionLinger is
// a retransmission: its transaction answers it again and the handler does
// not run; after the linger the transaction is gone and the same message
// is a new request.
func TestTransactionLingers(t *testing.T) {
	h := newHarness(t, "", nil)
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp4", h.ad.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.Replace(optionsMsg("UDP", "linger1"), "h.invalid", c.LocalAddr().String(), 1)
	answered := func() uint64 {
		return h.ad.Stats().Responses["OPTIONS"]["2xx"]
	}
	exchange := func(what string) {
		t.Helper()
		if _, err := c.WriteToUDP([]byte(msg), to); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			t.Fatalf("%s: %v %q", what, err, buf[:n])
		}
	}
	exchange("the OPTIONS")
	exchange("its retransmission, 0 s after")
	time.Sleep(time.Second)
	exchange("its retransmission, 1 s after")
	if n := answered(); n != 1 {
		t.Fatalf("the handler answered %d times, want 1 (retransmissions absorbed)", n)
	}
	time.Sleep(TransactionLinger + 500*time.Millisecond)
	exchange("the same message after the linger")
	if n := answered(); n != 2 {
		t.Fatalf("the handler answered %d times, want 2 (the transaction was gone)", n)
	}
}
