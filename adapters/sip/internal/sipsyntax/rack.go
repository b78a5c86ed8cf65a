package sipsyntax

import (
	"errors"
	"strconv"
	"strings"
)

// ErrRAck is returned for a RAck header that is not "response-num
// CSeq-num Method".
var ErrRAck = errors.New("sipsyntax: malformed RAck")

// RAck is a PRACK's RAck header (RFC 3262 §7.2): the RSeq of the
// provisional response it acknowledges, and the CSeq number and method of
// that response's request.
type RAck struct {
	RSeq, CSeq uint32
	Method     string
}

// ParseRAck parses a RAck value: two numbers of 1 to 2**32-1 and a method
// token, separated by white space.
func ParseRAck(v string) (RAck, error) {
	f := strings.Fields(v)
	if len(f) != 3 || !isToken(f[2]) {
		return RAck{}, ErrRAck
	}
	var n [2]uint32
	for i := range 2 {
		u, err := strconv.ParseUint(f[i], 10, 32)
		if err != nil || u == 0 || f[i][0] == '+' {
			return RAck{}, ErrRAck
		}
		n[i] = uint32(u)
	}
	return RAck{RSeq: n[0], CSeq: n[1], Method: strings.ToUpper(f[2])}, nil
}

// String is the RAck as a header value.
func (r RAck) String() string {
	return strconv.FormatUint(uint64(r.RSeq), 10) + " " + strconv.FormatUint(uint64(r.CSeq), 10) + " " + r.Method
}
