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
