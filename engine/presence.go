package engine

import (
	"context"
	"slices"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// Presence (FEATURES CL8). A client sets its presence — available, busy,
// away or offline — with an activity text; that is journaled on its
// stream. What others see is derived: busy while the client has a live
// call (ringing included) and has set itself available, offline when it is
// not registered. Every change of what others see reaches subscribers as a
// PresenceChanged notice (Seq 0: derived, never journaled) on the client's
// stream, so a Filter on the client, or on its lines, follows it.

// SetPresence sets a client's presence and activity text.
func (e *Engine) SetPresence(ctx context.Context, clientID string, p events.Presence, activity string) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	return e.clientCommand(ctx, clientID, false, fsm.SetPresence{Presence: p, Activity: activity})
}

// viewClient is the client as others see it, presence derived from its calls.
func (e *Engine) viewClient(c *fsm.Client) Client {
	v := clientView(c)
	v.Presence = c.EffectivePresence(e.live.busy(c.ID))
	return v
}

// presenceFlips collects the clients whose list of live calls became
// non-empty or empty while one batch of call events was applied.
type presenceFlips struct {
	n     int
	first [4]string // a batch's flips fit here: no allocation on a call's path
	more  []string
}

// list returns the flips in the order they were added.
func (f *presenceFlips) list() []string {
	if f.more != nil {
		return f.more
	}
	return f.first[:f.n]
}

// add records that client's list flipped. Two flips of one client in a
// batch (a call that joined and left it, as one sent straight to voicemail)
// cancel out: what others see did not change.
func (f *presenceFlips) add(client string, flipped bool) {
	if !flipped {
		return
	}
	if f.more != nil {
		if i := slices.Index(f.more, client); i >= 0 {
			f.more = slices.Delete(f.more, i, i+1)
			return
		}
		f.more = append(f.more, client)
		return
	}
	if i := slices.Index(f.first[:f.n], client); i >= 0 {
		copy(f.first[i:f.n], f.first[i+1:f.n])
		f.n--
		f.first[f.n] = ""
		return
	}
	if f.n == len(f.first) {
		f.more = append(slices.Clone(f.first[:f.n]), client)
		return
	}
	f.first[f.n] = client
	f.n++
}

// publishPresence tells subscribers the presence of clients whose busy state
// flipped, if it changed what others see.
func (e *Engine) publishPresence(flips *presenceFlips) {
	if flips.n == 0 && len(flips.more) == 0 || !e.bus.active() {
		return
	}
	for _, id := range flips.list() {
		c := e.dir.get(id)
		if c == nil || !c.Registered() || c.SetPresence() != events.PresenceAvailable {
			continue // a client that set busy, away or offline looks the same on a call
		}
		v := e.viewClient(c)
		e.presenceNotice(&v)
	}
}

func (e *Engine) presenceNotice(v *Client) {
	e.bus.publish(&Event{
		Envelope: events.Envelope{
			Stream: events.ClientStream(v.ID), Version: v.Version, Type: events.TypePresenceChanged,
			Time: e.now(), Schema: events.SchemaVersion,
			Event: events.PresenceChanged{Presence: v.Presence, Activity: v.Activity},
		},
		Client: v,
	})
}
