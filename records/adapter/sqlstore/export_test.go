package sqlstore

// PreparedStatements counts the statements s keeps prepared.
func PreparedStatements(s *Store) int { return s.stmts.Len() }
