package auditlog

// QueueLen tells how many events wait for a writer.
func QueueLen[E any](b *Batcher[E]) int { return len(b.queue) }
