package sip

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// newGuardedAdapter is a second adapter on h's engine with the origin and
// connection-limit settings under test.
func newGuardedAdapter(t *testing.T, h *harness, origins []string, maxConns int) *Adapter {
	t.Helper()
	ad, err := New(h.eng, Settings{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", WS: "127.0.0.1:0", WSOrigins: origins,
		MaxConnsPerAddress: maxConns, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ad.Close() })
	return ad
}

func optionsMsg(transport, callID string) string {
	return "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/" + transport + " h.invalid;branch=z9hG4bK" + callID +
		"\r\nFrom: <sip:a@h.invalid>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: " + callID +
		"\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

// SIP over WebSocket checks the handshake's Origin (a real ws client,
// coder/websocket): a page of another site gets 403 and never reaches
// SIP; a configured origin, a page of the host the browser connected to
// (another port) and a client without Origin (not a browser) are
// upgraded and answered.
func TestWSOriginChecked(t *testing.T) {
	h := newHarness(t, "", nil)
	ad := newGuardedAdapter(t, h, []string{"https://phone.example.com"}, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		return websocket.Dial(ctx, "ws://"+ad.Addr("ws"), &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPHeader: hdr})
	}
	for _, bad := range []string{"https://evil.example", "http://127.0.0.2:8080", "null"} {
		c, res, err := dial(bad)
		if err == nil {
			c.CloseNow()
			t.Fatalf("Origin %s: upgraded", bad)
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("Origin %s: %v, %+v; want 403", bad, err, res)
		}
	}
	for i, good := range []string{"https://phone.example.com", "http://127.0.0.1:8080", ""} {
		c, _, err := dial(good)
		if err != nil {
			t.Fatalf("Origin %q: %v", good, err)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(optionsMsg("WS", fmt.Sprint("origin", i)))); err != nil {
			t.Fatal(err)
		}
		if _, b, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(b), "SIP/2.0 200") {
			t.Fatalf("Origin %q: OPTIONS over ws: %v %.80q", good, err, b)
		}
		c.CloseNow()
	}
	if st := ad.Stats(); st.OriginRejected != 3 {
		t.Fatalf("origins rejected: %d, want 3", st.OriginRejected)
	}
}

// One source address may hold MaxConnsPerAddress TCP connections at
// once: the next is closed before it is read; once one closes, a new one
// is served.
func TestConnectionsPerAddressLimited(t *testing.T) {
	h := newHarness(t, "", nil)
	ad := newGuardedAdapter(t, h, nil, 3)
	served := func(c net.Conn, id string) error {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(optionsMsg("TCP", id))); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "SIP/2.0 200") {
			return fmt.Errorf("answer %q", line)
		}
		return nil
	}
	var open []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", ad.Addr("tcp"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := served(c, fmt.Sprint("conn", i)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
	}
	extra, err := net.Dial("tcp", ad.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if err := served(extra, "extra"); err == nil {
		t.Fatal("a 4th connection from one address was served")
	}
	if st := ad.Stats(); st.ConnsRejected != 1 {
		t.Fatalf("connections rejected: %d, want 1", st.ConnsRejected)
	}
	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", ad.Addr("tcp"))
		if err != nil {
			t.Fatal(err)
		}
		err = served(c, "again")
		c.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection closed did not free its place: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
