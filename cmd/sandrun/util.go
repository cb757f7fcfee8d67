package main

import (
	"encoding/base64"
	"syscall"

	"golang.org/x/sys/unix"
)

func encodeContent(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sigName(s syscall.Signal) string { return unix.SignalName(s) }
