package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
)

// The headers of a delivery.
const (
	HeaderEventID   = "X-Callengine-Event-Id"  // the delivery's id, as in the body
	HeaderTimestamp = "X-Callengine-Timestamp" // Unix seconds when this try was sent
	HeaderSignature = "X-Callengine-Signature" // "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderAttempt   = "X-Callengine-Attempt"   // 1 for the first try, 2 for the first retry, …
)

// signaturePrefix names the signature scheme.
const signaturePrefix = "v1="

// Sign returns the X-Callengine-Signature value for a body sent at
// timestamp (Unix seconds, as in X-Callengine-Timestamp):
// "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery as its receiver: signature is the
// X-Callengine-Signature header, timestamp the X-Callengine-Timestamp header,
// body the request body exactly as received. The signature must be the HMAC
// of secret over timestamp and body (one of them, when the header holds
// several "v1=…" values separated by commas), and the timestamp within
// tolerance of now (a tolerance ≤ 0 skips that check). It returns nil or an
// error with code invalid_token.
//
// A delivery retried keeps its body and id but has a new timestamp and
// signature; a receiver de-duplicates by the id (X-Callengine-Event-Id, or
// "id" in the body).
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return errcode.New(errcode.InvalidToken, "webhook: no secret to verify with")
	}
	if timestamp == "" || signature == "" {
		return errcode.New(errcode.InvalidToken, "webhook: timestamp or signature header missing")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errcode.Wrap(errcode.InvalidToken, err, "webhook: bad timestamp")
	}
	want := mac(secret, timestamp, body)
	ok := false
	for _, s := range strings.Split(signature, ",") {
		hexSig, found := strings.CutPrefix(strings.TrimSpace(s), signaturePrefix)
		if !found {
			continue
		}
		got, err := hex.DecodeString(hexSig)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return errcode.New(errcode.InvalidToken, "webhook: signature does not match")
	}
	if tolerance > 0 {
		skew := now.Sub(time.Unix(ts, 0))
		if skew > tolerance || skew < -tolerance {
			return errcode.Newf(errcode.InvalidToken, "webhook: timestamp %d is %v away from now (tolerance %v)", ts, skew.Round(time.Second), tolerance)
		}
	}
	return nil
}
