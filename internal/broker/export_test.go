package broker

import "time"

// OpenEmbedded is openEmbedded for the external tests (package broker_test,
// which import the egress, and so cannot be in this package).
var OpenEmbedded = openEmbedded

// withWaitLog sets how often Open logs its wait for an external NATS.
func withWaitLog(d time.Duration) Option {
	return func(o *options) error { o.waitLog = d; return nil }
}
