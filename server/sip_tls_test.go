package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/internal/testcert"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files under dir, and returns their paths and a pool that trusts
// the certificate.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	c, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c.Roots
}

// serve with sip.tls and sip.wss: SIP over TLS is served on sip.tls with
// the configured certificate (an OPTIONS over a verified TLS connection
// gets 200 naming our TLS Contact), and wss listens too.
func TestServeSIPOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, roots := writeTestCert(t, dir)
	s := &Server{}
	tlsAddr := "127.0.0.1:" + strconv.Itoa(freeTCP(t))
	wssAddr := "127.0.0.1:" + strconv.Itoa(freeTCP(t))
	s.Config.SIP = SIP{UDP: "127.0.0.1:" + strconv.Itoa(freeUDP(t)), TLS: tlsAddr, WSS: wssAddr, TLSCert: certFile, TLSKey: keyFile}
	start(t, s, t.TempDir())

	conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to sip.tls: %v", err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	req := "OPTIONS sip:" + tlsAddr + ";transport=tls SIP/2.0\r\n" +
		"Via: SIP/2.0/TLS " + local + ";branch=z9hG4bK-tls-options-1\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:" + tlsAddr + ">\r\n" +
		"Call-ID: tls-options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	status, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TLS: %q, %v", status, err)
	}
	var head strings.Builder
	for {
		l, err := rd.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
		head.WriteString(l)
	}
	if !strings.Contains(head.String(), "transport=tls") {
		t.Errorf("the 200 over TLS does not name our TLS Contact:\n%s", head.String())
	}

	// wss: a TLS handshake with the same certificate.
	wc, err := tls.Dial("tcp", wssAddr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to sip.wss: %v", err)
	}
	wc.Close()
}

func freeTCP(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
