package main

// forward_client.c, the CLI side of forwarded runs, is compiled with this
// package through cgo.

// #include "forward_client.h"
import "C"

// forwardDefaultSocket is the API socket forward_client.c uses when none is
// named.
const forwardDefaultSocket = C.AGENTD_DEFAULT_SOCKET
