package sipsyntax

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadDTMF refuses a DTMF body.
var ErrBadDTMF = errors.New("sip: malformed dtmf-relay body")

// maxDTMFBody bounds an INFO body we read.
const maxDTMFBody = 1024

// ParseDTMFRelay reads an application/dtmf-relay body: one Signal (0-9,
// *, #, A-D, or 10 for * and 11 for #) and an optional Duration in ms
// (1–10000; 0 when absent). Unknown lines are ignored; a repeated key,
// an unknown signal or a duration out of range is an error. It never
// panics (FuzzDTMFRelay).
func ParseDTMFRelay(body []byte) (digit byte, d time.Duration, err error) {
	if len(body) == 0 || len(body) > maxDTMFBody {
		return 0, 0, ErrBadDTMF
	}
	seenSignal, seenDuration := false, false
	for line := range strings.SplitSeq(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return 0, 0, ErrBadDTMF
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "signal":
			if seenSignal {
				return 0, 0, ErrBadDTMF
			}
			seenSignal = true
			switch {
			case v == "10":
				digit = '*'
			case v == "11":
				digit = '#'
			case len(v) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(v[0])):
				digit = strings.ToUpper(v)[0]
			default:
				return 0, 0, ErrBadDTMF
			}
		case "duration":
			if seenDuration {
				return 0, 0, ErrBadDTMF
			}
			seenDuration = true
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				return 0, 0, ErrBadDTMF
			}
			d = time.Duration(n) * time.Millisecond
		}
	}
	if !seenSignal {
		return 0, 0, ErrBadDTMF
	}
	return digit, d, nil
}
