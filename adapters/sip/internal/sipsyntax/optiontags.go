package sipsyntax

import (
	"errors"
	"slices"
	"strings"
)

// ErrOptionTag is returned for a Require, Supported or Unsupported header
// whose list holds something that is not an option tag.
var ErrOptionTag = errors.New("sipsyntax: not an option tag")

// maxOptionTags bounds the tags one request may list: past it the list is
// refused as malformed (a request that requires a hundred extensions is
// not a phone's).
const maxOptionTags = 32

// OptionTags returns the option tags (RFC 3261 §19.2, §20.32: tokens,
// compared case-insensitively) that the values of a Require, Supported or
// Unsupported header list — the header may be repeated, each value a
// comma-separated list — lower-cased, each once, in order. Empty elements
// are skipped; anything that is not a token is ErrOptionTag.
func OptionTags(values []string) ([]string, error) {
	var tags []string
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			tag := strings.TrimSpace(elem)
			if tag == "" {
				continue
			}
			if !isToken(tag) {
				return nil, ErrOptionTag
			}
			tag = strings.ToLower(tag)
			if slices.Contains(tags, tag) {
				continue
			}
			if len(tags) == maxOptionTags {
				return nil, ErrOptionTag
			}
			tags = append(tags, tag)
		}
	}
	return tags, nil
}

// Unsupported returns the tags of required that supported (lower-case)
// does not hold, in order: what a 420 (Bad Extension) lists in its
// Unsupported header.
func Unsupported(required, supported []string) []string {
	var out []string
	for _, t := range required {
		if !slices.Contains(supported, t) {
			out = append(out, t)
		}
	}
	return out
}

// isToken reports whether s is a token of RFC 3261 §25.1: alphanumerics
// and -.!%*_+`'~.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}
