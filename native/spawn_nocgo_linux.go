//go:build linux && !cgo

package native

import "syscall"

// spawnAvailable is false: without cgo there is no spawn child, and
// commands start through the native-exec helper.
const spawnAvailable = false

func spawn(*spawnAttr) (int, error, *spawnFailure, error) { return 0, nil, nil, syscall.ENOSYS }
