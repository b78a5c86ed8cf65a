package media

// Echo sends a leg's own audio back to it (an echo test). It ends any earlier
// pairing of the leg; Connect or Disconnect ends the echo.
func (r *Relay) Echo(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, err := r.getLocked(name)
	if err != nil {
		return err
	}
	r.unlinkLocked(l)
	l.peer.Store(l)
	return nil
}

// AddEchoLeg adds a leg that is no peer connection but a mirror: whatever
// the leg it is connected to sends comes back to that leg. It stands for a
// party that plays back what it hears (the echo test of callengine serve):
// connect it like any leg (Connect(caller, echoLeg)), and hold, mute and
// re-connection behave as with a real party. It has no events, no
// candidates and no statistics of its own.
func (r *Relay) AddEchoLeg(name string) error {
	_, err := r.reserve(name, func(serial uint64) (*leg, error) {
		return &leg{r: r, name: name, serial: serial, mirror: true, done: make(chan struct{}), q: newEventQueue()}, nil
	})
	return err
}
