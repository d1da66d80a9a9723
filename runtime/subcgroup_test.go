package runtime

import (
	"errors"
	"testing"
)

func TestCheckSubCgroup(t *testing.T) {
	for _, sub := range []string{"", ".", "..", "a/b", "../x", "/abs", "x\x00y"} {
		if err := checkSubCgroup(sub); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("checkSubCgroup(%q) = %v, want ErrInvalidArgument", sub, err)
		}
	}
	for _, sub := range []string{"exec-3f2a9c1b0d4e", "x", "a.b"} {
		if err := checkSubCgroup(sub); err != nil {
			t.Errorf("checkSubCgroup(%q) = %v", sub, err)
		}
	}
}
