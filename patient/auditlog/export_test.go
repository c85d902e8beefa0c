package auditlog

// QueueLen tells how many events wait for a writer.
func QueueLen(b *Batcher) int { return len(b.queue) }
