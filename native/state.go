package native

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/agentd/agentd/bundle"
)

// writeJSONAtomic writes v to path as JSON, mode 0600, atomically
// ([bundle.WriteFileAtomic]).
func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return bundle.WriteFileAtomic(path, data, 0o600)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
