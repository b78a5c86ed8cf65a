package auth_test

import "testing"

// BenchmarkVerify measures the check of a valid access token, the work done
// for every connection. With previous secrets every key is tried, so a
// rotation costs one more HMAC per token.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name     string
		previous [][]byte
	}{
		{"one-secret", nil},
		{"rotating", [][]byte{secret2}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := signer(b, secret, bc.previous...)
			tok := sign(b, s, access("alice"))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Verify(tok, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	s := signer(b, secret)
	c := access("alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}
