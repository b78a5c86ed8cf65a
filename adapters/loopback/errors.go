package loopback

import "github.com/callengine/callengine/errcode"

var errNotAttached = errcode.New(errcode.Unavailable, "loopback adapter is not attached to an engine")
