package broker

import "time"

// SetConsumerCheck makes the running consumers of b, a NATS broker, look
// for their durables every d; call it before Consume.
func SetConsumerCheck(b Broker, d time.Duration) { b.(*natsBroker).consumerCheck = d }
