package sipsyntax

import (
	"bytes"
	"strconv"
	"strings"
)

// Media direction and origin in a pass-through SDP (RFC 3264 §5.1, §6.1,
// §8): a re-INVITE's hold is a=sendonly or a=inactive; the answer mirrors
// it (sendonly → recvonly, inactive → inactive); every new SDP a leg gets
// keeps that leg's o= session id and increments its version. Edits are
// textual: the rest of the phone's SDP goes on untouched.

// The four directions of RFC 3264.
const (
	DirSendRecv = "sendrecv"
	DirSendOnly = "sendonly"
	DirRecvOnly = "recvonly"
	DirInactive = "inactive"
)

// SDPLines splits an SDP body into lines without their CR LF.
func SDPLines(body []byte) []string {
	s := strings.TrimRight(string(body), "\r\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return lines
}

func joinSDP(lines []string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// IsDirection reports whether s is one of the four directions.
func IsDirection(s string) bool {
	switch s {
	case DirSendRecv, DirSendOnly, DirRecvOnly, DirInactive:
		return true
	}
	return false
}

// SDPDirection is the direction of the first media section (its own
// attribute, else the session's, else sendrecv). A connection address of
// 0.0.0.0 (the RFC 2543 way to hold) counts as inactive.
func SDPDirection(body []byte) string {
	session, media := "", ""
	inMedia, seenMedia := false, false
	zero := false
	for _, l := range SDPLines(body) {
		switch {
		case strings.HasPrefix(l, "m="):
			if seenMedia {
				goto done
			}
			inMedia, seenMedia = true, true
		case strings.HasPrefix(l, "a=") && IsDirection(l[2:]):
			if inMedia {
				media = l[2:]
			} else {
				session = l[2:]
			}
		case strings.HasPrefix(l, "c="):
			f := strings.Fields(l[2:])
			if len(f) == 3 && (f[2] == "0.0.0.0" || f[2] == "::") {
				zero = true
			}
		}
	}
done:
	d := DirSendRecv
	if session != "" {
		d = session
	}
	if media != "" {
		d = media
	}
	if zero {
		d = DirInactive
	}
	return d
}

// SetDirection returns body with every direction attribute removed and
// a=dir at the end of each media section.
func SetDirection(body []byte, dir string) []byte {
	var out []string
	inMedia := false
	for _, l := range SDPLines(body) {
		if strings.HasPrefix(l, "a=") && IsDirection(l[2:]) {
			continue
		}
		if strings.HasPrefix(l, "m=") {
			if inMedia {
				out = append(out, "a="+dir)
			}
			inMedia = true
		}
		out = append(out, l)
	}
	if inMedia {
		out = append(out, "a="+dir)
	}
	return joinSDP(out)
}

// AnswerDirection is the direction an answer to an offer with direction
// offer may have, given what the other phone answered (RFC 3264 §6.1):
// sendonly → recvonly (or inactive), recvonly → sendonly (or inactive),
// inactive → inactive, sendrecv → what was answered.
func AnswerDirection(offer, answered string) string {
	switch offer {
	case DirSendOnly:
		if answered == DirInactive || answered == DirSendOnly {
			return DirInactive
		}
		return DirRecvOnly
	case DirRecvOnly:
		if answered == DirInactive || answered == DirRecvOnly {
			return DirInactive
		}
		return DirSendOnly
	case DirInactive:
		return DirInactive
	}
	return answered
}

// OriginLine returns the o= line of body, or "".
func OriginLine(body []byte) string {
	for _, l := range SDPLines(body) {
		if strings.HasPrefix(l, "o=") {
			return l
		}
	}
	return ""
}

// NextOrigin is o= line prev with its session version incremented; ok is
// false when prev is not an origin line of six fields.
func NextOrigin(prev string) (string, bool) {
	f := strings.Fields(strings.TrimPrefix(prev, "o="))
	if len(f) != 6 {
		return "", false
	}
	v, err := strconv.ParseUint(f[2], 10, 63)
	if err != nil {
		return "", false
	}
	f[2] = strconv.FormatUint(v+1, 10)
	return "o=" + strings.Join(f, " "), true
}

// WithOrigin replaces body's o= line by origin.
func WithOrigin(body []byte, origin string) []byte {
	lines := SDPLines(body)
	for i, l := range lines {
		if strings.HasPrefix(l, "o=") {
			lines[i] = origin
			break
		}
	}
	return joinSDP(lines)
}
