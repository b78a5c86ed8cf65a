package sip

import (
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
)

// destination turns a Request-URI into what the engine dials
// (sipsyntax.Destination, fuzzed there).
func destination(u *sip.Uri, domain string) (string, error) { return sipsyntax.Destination(u, domain) }
