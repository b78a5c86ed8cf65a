package ws

import (
	"context"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// stats answers call.stats (FEATURES M5: call statistics on request): for
// each side of a call the connection's client is a party of, what the
// relay counts on that side's leg — whoever its device is, a browser, a
// SIP phone or a trunk. A side whose media is not on the relay (a phone
// passed through) has media false.
func (c *conn) stats(ctx context.Context, r *Request) error {
	if _, err := c.mySide(ctx, r.CallID); err != nil {
		return err
	}
	sr, ok := c.h.media.(StatsReporter)
	if !ok {
		return errcode.New(errcode.Unavailable, "no media relay to ask")
	}
	legs := make([]LegStatsInfo, 0, 2)
	for _, s := range []events.Side{events.Caller, events.Callee} {
		info := LegStatsInfo{Side: s.String()}
		if st, err := sr.LegStats(legName(r.CallID, s)); err == nil {
			info.Media = true
			info.Codec, info.State = st.Codec, string(st.State)
			info.PacketsIn, info.PacketsOut, info.PacketsDropped = st.PacketsIn, st.PacketsOut, st.PacketsDropped
			info.Lost, info.DTMFIn, info.Muted, info.Held = st.Lost, st.DTMFIn, st.Muted, st.Held
			info.JitterMS = float64(st.Jitter) / float64(time.Millisecond)
			info.Encryption, info.SRTPFailures = st.Encryption, st.SRTPFailures
		}
		legs = append(legs, info)
	}
	c.send(Message{Type: MsgStatsResult, ReqID: r.ReqID, CallID: r.CallID, Legs: &legs})
	return nil
}
