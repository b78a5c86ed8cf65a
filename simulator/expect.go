package simulator

import (
	"strings"
)

// matchState reports whether an actual state line satisfies an expected one.
// The first word (the state) must be equal; every other expected word must
// hold: "key=value" equals the actual value of key, "key=" says key is
// absent, and a bare word ("missed") must be among the actual words. Words
// the expectation does not name are not checked.
func matchState(want, got string) bool {
	w, g := strings.Fields(want), strings.Fields(got)
	if len(w) == 0 || len(g) == 0 || w[0] != g[0] {
		return len(w) == 0 && len(g) == 0
	}
	return matchWords(w[1:], g[1:])
}

// matchEvent reports whether an actual event line satisfies an expected one:
// the label and the event name must be equal, then as matchState.
func matchEvent(want, got string) bool {
	w, g := strings.Fields(want), strings.Fields(got)
	if len(w) < 2 || len(g) < 2 || w[0] != g[0] || w[1] != g[1] {
		return false
	}
	return matchWords(w[2:], g[2:])
}

func matchWords(want, got []string) bool {
	values := map[string]string{}
	bare := map[string]bool{}
	for _, g := range got {
		if k, v, ok := strings.Cut(g, "="); ok {
			values[k] = v
		} else {
			bare[g] = true
		}
	}
	for _, w := range want {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			if !bare[w] {
				return false
			}
			continue
		}
		if got, has := values[k]; v == "" && has || v != "" && got != v {
			return false
		}
	}
	return true
}

// diff prints want and got line by line, from their longest common
// subsequence: "  " both, "- " only wanted, "+ " only got. match says when
// an expected line accepts an actual one.
func diff(want, got []string, match func(w, g string) bool) string {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if match(want[i], got[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && match(want[i], got[j]):
			b.WriteString("    " + got[j] + "\n")
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			b.WriteString("  + " + got[j] + "\n")
			j++
		default:
			b.WriteString("  - " + want[i] + "\n")
			i++
		}
	}
	return b.String()
}
