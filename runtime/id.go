package runtime

import (
	"fmt"

	"github.com/agentd/agentd/bundle"
)

// ValidateID reports whether id can name a container; the rule is the
// project's one id rule, [bundle.ValidateID]: a letter or digit first, then
// letters, digits, '_', '.' and '-', at most 128 characters, so an id never
// names anything outside the state root.
func ValidateID(id string) error {
	if bundle.ValidateID(id) != nil {
		return fmt.Errorf("%w %q: use 1-128 characters from [A-Za-z0-9_.-], starting with a letter or digit", ErrInvalidID, id)
	}
	return nil
}
