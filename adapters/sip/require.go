package sip

import (
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
)

// Extensions: the Require header (RFC 3261 §8.2.2.3).

// supportedTags are the option tags of the extensions the adapter
// implements both ways, and supported their Supported header: INVITE with
// Replaces (RFC 3891). requirableTags are what a request may require:
// those, reliable provisional responses (100rel, RFC 3262: prack.go; our
// INVITEs to trunks list it, prack_uac.go) and session timers (timer, RFC
// 4028: session_timer.go, as the UAS). Any other tag a request requires
// (precondition …) gets 420.
var (
	supportedTags  = []string{"replaces"}
	requirableTags = append(slices.Clone(supportedTags), rel100, "timer")
)

var supported = strings.Join(supportedTags, ", ")

// statusBadExtension answers a request that requires an extension the
// adapter does not implement; its Unsupported header lists them.
var statusBadExtension = status{420, "Bad Extension"}

// extensionsChecked wraps a request handler: a request whose Require
// header lists an option tag the adapter does not implement is answered
// 420 with an Unsupported header listing those tags, and one whose
// Require is not a list of option tags 400 — before authentication and
// before anything is journaled, as RFC 3261 §8.2.2.3 orders. ACK and
// CANCEL are never refused (§8.2.2.3: their Require is ignored).
func (a *Adapter) extensionsChecked(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if req.IsAck() || req.IsCancel() {
			h(req, tx)
			return
		}
		hs := req.GetHeaders("require")
		if len(hs) == 0 {
			h(req, tx)
			return
		}
		values := make([]string, len(hs))
		for i, hd := range hs {
			values[i] = hd.Value()
		}
		tags, err := sipsyntax.OptionTags(values)
		if err != nil {
			a.respond(tx, a.response(req, statusBadRequest))
			return
		}
		if missing := sipsyntax.Unsupported(tags, requirableTags); len(missing) > 0 {
			res := a.response(req, statusBadExtension)
			res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(missing, ", ")))
			a.respond(tx, res)
			return
		}
		h(req, tx)
	}
}
