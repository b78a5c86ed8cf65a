//go:build !linux

package sip

import "errors"

func forceReadBuffer(fd uintptr, size int) error { return errors.ErrUnsupported }

func readBufferSize(reported int) int { return reported }
