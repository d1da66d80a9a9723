package supervisor

import (
	"bytes"
	"maps"
	"os"
	"slices"
	"strconv"
)

// execIDEnv tags every process of an exec (backends that cannot give each
// exec its own cgroup use it to find the exec's processes that left its
// process tree, e.g. by double-forking).
const execIDEnv = "AGENTD_EXEC_ID"

// procEnv returns the value of key in the initial environment of pid, or
// "".
func procEnv(pid int, key string) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	prefix := []byte(key + "=")
	for kv := range bytes.SplitSeq(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(v)
		}
	}
	return ""
}

// descendants returns the pids among pids that descend from root.
func descendants(root int, pids []int) map[int]bool {
	out := make(map[int]bool)
	if root <= 0 {
		return out
	}
	parent := make(map[int]int, len(pids))
	for _, pid := range pids {
		if _, ppid, ok := procStat(pid); ok {
			parent[pid] = ppid
		}
	}
	for _, pid := range pids {
		for p, seen := parent[pid], 0; p > 0 && seen < len(pids); p, seen = parent[p], seen+1 {
			if p == root {
				out[pid] = true
				break
			}
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
