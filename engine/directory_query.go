package engine

import (
	"context"
	"slices"
	"strings"
	"unicode"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// Directory (FEATURES CL9): the organisation's registered clients with
// their numbers, extensions and presence, listed and searched.

// DirectoryQuery selects directory entries. The zero value lists everyone.
type DirectoryQuery struct {
	// Search matches, case-insensitively, a substring of the name or the
	// id, or — when it holds digits — a run of digits of a number or an
	// extension ("555 01" finds +14155550102). Empty matches every client.
	Search string
	// Presence keeps only clients whose presence (as others see it) is
	// one of these.
	Presence []events.Presence
	// Limit bounds the entries returned (default 100, at most 1000);
	// Offset skips the first ones, for paging.
	Limit, Offset int
}

// DirectoryEntry is one client as the directory shows it.
type DirectoryEntry struct {
	ID         string
	Name       string
	Numbers    []string
	Extensions []string
	Presence   events.Presence
	Activity   string
}

// DirectoryPage is one page of a directory listing; Total counts every
// match.
type DirectoryPage struct {
	Entries []DirectoryEntry
	Total   int
}

// Directory lists registered clients by name (then id), filtered by q.
func (e *Engine) Directory(ctx context.Context, q DirectoryQuery) (DirectoryPage, error) {
	if err := e.checkOpen(); err != nil {
		return DirectoryPage{}, err
	}
	if q.Limit < 0 || q.Offset < 0 || q.Limit > 1000 {
		return DirectoryPage{}, errcode.New(errcode.InvalidParams, "limit must be 0 to 1000 and offset not negative")
	}
	for _, p := range q.Presence {
		if !p.Valid() {
			return DirectoryPage{}, errcode.Newf(errcode.InvalidParams, "unknown presence %d", p)
		}
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	text := strings.ToLower(strings.TrimSpace(q.Search))
	digits := onlyDigits(q.Search)
	var all []DirectoryEntry
	for _, c := range e.dir.list() {
		if !c.Registered() {
			continue
		}
		v := e.viewClient(c)
		if len(q.Presence) > 0 && !slices.Contains(q.Presence, v.Presence) {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(v.Name), text) && !strings.Contains(strings.ToLower(v.ID), text) &&
			(digits == "" || !slices.ContainsFunc(append(slices.Clone(v.Numbers), v.Extensions...), func(n string) bool {
				return strings.Contains(onlyDigits(n), digits)
			})) {
			continue
		}
		all = append(all, DirectoryEntry{ID: v.ID, Name: v.Name, Numbers: v.Numbers, Extensions: v.Extensions,
			Presence: v.Presence, Activity: v.Activity})
	}
	slices.SortFunc(all, func(a, b DirectoryEntry) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	page := DirectoryPage{Total: len(all)}
	if q.Offset < len(all) {
		page.Entries = all[q.Offset:min(len(all), q.Offset+q.Limit)]
	}
	return page, nil
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}
