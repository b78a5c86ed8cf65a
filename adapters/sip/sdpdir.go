package sip

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
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// sdpLines splits an SDP body into lines without their CR LF.
func sdpLines(body []byte) []string {
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

func isDirection(s string) bool {
	switch s {
	case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
		return true
	}
	return false
}

// sdpDirection is the direction of the first media section (its own
// attribute, else the session's, else sendrecv). A connection address of
// 0.0.0.0 (the RFC 2543 way to hold) counts as inactive.
func sdpDirection(body []byte) string {
	session, media := "", ""
	inMedia, seenMedia := false, false
	zero := false
	for _, l := range sdpLines(body) {
		switch {
		case strings.HasPrefix(l, "m="):
			if seenMedia {
				goto done
			}
			inMedia, seenMedia = true, true
		case strings.HasPrefix(l, "a=") && isDirection(l[2:]):
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
	d := dirSendRecv
	if session != "" {
		d = session
	}
	if media != "" {
		d = media
	}
	if zero {
		d = dirInactive
	}
	return d
}

// setDirection returns body with every direction attribute removed and
// a=dir at the end of each media section.
func setDirection(body []byte, dir string) []byte {
	var out []string
	inMedia := false
	for _, l := range sdpLines(body) {
		if strings.HasPrefix(l, "a=") && isDirection(l[2:]) {
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

// answerDirection is the direction an answer to an offer with direction
// offer may have, given what the other phone answered (RFC 3264 §6.1):
// sendonly → recvonly (or inactive), recvonly → sendonly (or inactive),
// inactive → inactive, sendrecv → what was answered.
func answerDirection(offer, answered string) string {
	switch offer {
	case dirSendOnly:
		if answered == dirInactive || answered == dirSendOnly {
			return dirInactive
		}
		return dirRecvOnly
	case dirRecvOnly:
		if answered == dirInactive || answered == dirRecvOnly {
			return dirInactive
		}
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	return answered
}

// originLine returns the o= line of body, or "".
func originLine(body []byte) string {
	for _, l := range sdpLines(body) {
		if strings.HasPrefix(l, "o=") {
			return l
		}
	}
	return ""
}

// nextOrigin is o= line prev with its session version incremented; ok is
// false when prev is not an origin line of six fields.
func nextOrigin(prev string) (string, bool) {
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

// withOrigin replaces body's o= line by origin.
func withOrigin(body []byte, origin string) []byte {
	lines := sdpLines(body)
	for i, l := range lines {
		if strings.HasPrefix(l, "o=") {
			lines[i] = origin
			break
		}
	}
	return joinSDP(lines)
}
