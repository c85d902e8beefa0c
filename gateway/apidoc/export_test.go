package apidoc

// Settle waits for the build under way, if any.
func Settle(s *Source) {
	s.mu.Lock()
	done := s.building
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}
