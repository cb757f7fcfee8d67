package netproxy

import (
	"fmt"
	"maps"
)

// Port is where the proxy listens inside every run's network namespace.
// Each run has a namespace of its own, so one fixed port serves all, and
// the jail's Landlock rule can name it.
const Port = 3128

// Addr is the proxy's address as the program sees it.
var Addr = fmt.Sprintf("127.0.0.1:%d", Port)

// proxyEnv are the variables that point the usual clients (curl, pip,
// npm, python's urllib, node's fetch with a proxy agent) at the proxy. Both
// cases: curl reads only the lower-case http_proxy. NO_PROXY is empty: no
// destination bypasses the proxy (there is no other way out anyway).
var proxyEnv = map[string]string{
	"HTTP_PROXY": "http://" + Addr, "http_proxy": "http://" + Addr,
	"HTTPS_PROXY": "http://" + Addr, "https_proxy": "http://" + Addr,
	"ALL_PROXY": "http://" + Addr, "all_proxy": "http://" + Addr,
	"NO_PROXY": "", "no_proxy": "",
}

// Env returns the proxy variables for the program's environment.
func Env() map[string]string { return maps.Clone(proxyEnv) }
