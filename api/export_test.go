package api

// CachedAnswers returns how many answers the server's cache holds.
func (s *Server) CachedAnswers() int {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return len(s.cache.answers)
}
