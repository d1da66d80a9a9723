package prefault

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// When the package is initialised, the kernel maps the binary's read-only
// segments (code, read-only data: at least two) at once.
func TestReadOnlySegmentsPopulated(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	var v []int
	for _, f := range strings.FieldsFunc(rel, func(r rune) bool { return r < '0' || r > '9' })[:2] {
		n, _ := strconv.Atoi(f)
		v = append(v, n)
	}
	if v[0] < 5 || v[0] == 5 && v[1] < 14 {
		t.Skipf("kernel %s has no MADV_POPULATE_READ (Linux 5.14)", rel)
	}
	if populated < 2 {
		t.Errorf("%d read-only segments populated, want at least 2 (code and read-only data)", populated)
	}
}
