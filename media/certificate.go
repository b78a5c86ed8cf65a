package media

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"time"

	"github.com/pion/webrtc/v4"
)

// certificate is the DTLS certificate of the relay's legs: one for all, made
// again a day before it expires (pion's last a month). Making one per leg
// would cost each call setup a key generation. Called with r.mu held.
func (r *Relay) certificateLocked() ([]webrtc.Certificate, error) {
	if r.cert == nil || time.Until(r.cert.Expires()) < 24*time.Hour {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		c, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return nil, err
		}
		r.cert = c
	}
	return []webrtc.Certificate{*r.cert}, nil
}
