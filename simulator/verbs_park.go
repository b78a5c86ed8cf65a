package simulator

// park puts the other party of a call in the callpark: "bob park c1 [in
// SLOT]". "bob pause c1" is a side action (verbs_calls.go).
type park struct {
	onCall
	slot string
}

func parsePark(a *args) (command, error) {
	if len(a.rest) == 0 {
		return nil, a.bad("park which call?")
	}
	c := &park{onCall: onCall{client: a.who, call: a.rest[0], verb: a.verb}}
	a.rest = a.rest[1:]
	return c, a.options(textOption("in", &c.slot))
}

func (c *park) run(s *sim) error {
	p, err := c.asParty(s, false)
	if err != nil {
		return err
	}
	_, err = s.eng.Park(s.ctx, p.id, p.side, c.slot)
	return err
}

// unpark takes a parked call, by its label or by its slot: "carol unpark
// c1 [on DEVICE]", "carol unpark slot 701 [on DEVICE]". Any client may take
// a parked call.
type unpark struct {
	client     string
	call, slot string // one of them
	device     string
}

func parseUnpark(a *args) (command, error) {
	c := &unpark{client: a.who}
	switch {
	case len(a.rest) == 0:
		return nil, a.bad("unpark which call, or which slot?")
	case a.rest[0] == "slot" && len(a.rest)%2 == 0:
		c.slot, a.rest = a.rest[1], a.rest[2:]
	default:
		c.call, a.rest = a.rest[0], a.rest[1:]
	}
	return c, a.options(textOption("on", &c.device))
}

func (c *unpark) run(s *sim) error {
	e, ctx := s.eng, s.ctx
	device := c.device
	if cl, err := e.Client(ctx, c.client); err == nil && device == "" && len(cl.Devices) == 1 {
		device = cl.Devices[0].ID // the client's only phone takes the call
	}
	if c.call == "" {
		_, err := e.UnparkSlot(ctx, c.slot, c.client, device)
		return err
	}
	id, err := s.callID(c.call)
	if err != nil {
		return err
	}
	_, err = e.Unpark(ctx, id, c.client, device)
	return err
}
