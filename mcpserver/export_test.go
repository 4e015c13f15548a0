package mcpserver

// DirectCalls returns how many calls s answered by the direct transport,
// and how many sessions its table holds; ok is false when go-sdk's handler
// serves s.
func DirectCalls(s *Server) (calls uint64, sessions int, ok bool) {
	if s.direct == nil {
		return 0, 0, false
	}
	s.direct.mu.Lock()
	defer s.direct.mu.Unlock()
	return s.direct.answered.Load(), len(s.direct.sessions), true
}

// StatelessDirectCalls returns how many calls s answered by the stateless
// direct transport; ok is false when that transport does not serve s.
func StatelessDirectCalls(s *Server) (calls uint64, ok bool) {
	if s.stateless == nil {
		return 0, false
	}
	return s.stateless.answered.Load(), true
}

// DispatchedCalls returns how many tools/calls s's direct transport
// dispatched to the server's method handler itself (dispatcher).
func DispatchedCalls(s *Server) uint64 {
	switch {
	case s.direct != nil:
		return s.direct.fast.dispatched.Load()
	case s.stateless != nil:
		return s.stateless.fast.dispatched.Load()
	}
	return 0
}

// DispatchOn reports whether s's direct transport dispatches tools/call
// itself now.
func DispatchOn(s *Server) bool {
	switch {
	case s.direct != nil:
		return s.direct.fast.on()
	case s.stateless != nil:
		return s.stateless.fast.on()
	}
	return false
}

// MemoryStoreEntries returns the number of entries s's map holds, and how
// many of them are marked removed, counted one by one (Len is the store's
// own count).
func MemoryStoreEntries(s *MemoryStore) (entries, removed int) {
	s.tats.Range(func(_, v any) bool {
		entries++
		if v.(*memoryTAT).tat.Load() == deadTAT {
			removed++
		}
		return true
	})
	return entries, removed
}
