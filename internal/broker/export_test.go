package broker

// OpenEmbedded is openEmbedded for the external tests (package broker_test,
// which import the egress, and so cannot be in this package).
var OpenEmbedded = openEmbedded
