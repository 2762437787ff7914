package kfbridgetest

import "errors"

// ErrInvalid reports an invalid [Option]; [New] returns every one it
// finds, joined. Match it with errors.Is.
var ErrInvalid = errors.New("kfbridgetest: invalid option")
