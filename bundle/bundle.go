package bundle

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bundle is a materialized container sandbox on disk:
//
//	<stateDir>/sandboxes/<id>/
//	    config.json   OCI configuration (0600)
//	    rootfs/       overlay mount point, root.path of config.json
//	    upper/<name>  writable layer of each overlay: ALL writable state
//	    work/<name>   overlayfs work directory of each overlay
//
// A snapshot is a copy of Upper, taken while the sandbox is frozen (or
// stopped), preserving owners, modes, xattrs (trusted.overlay.*) and device
// nodes (whiteouts are 0:0 character devices), e.g. `cp -a --reflink=auto`.
// To restore, [Unmount] the sandbox, replace Upper with the copy, and [Remount]
// it again; to fork, [Materialize] a new sandbox, [Unmount] it, copy the
// snapshot into its Upper and [Remount] it. Work holds nothing worth keeping.
// Sandboxes without a base share a generated read-only skeleton (/etc, empty
// mount points) under <stateDir>/skeletons/<hash of its host inputs>.
type Bundle struct {
	ID     string
	Dir    string // the bundle directory: config.json and rootfs
	Config string // Dir/config.json
	Rootfs string // Dir/rootfs, where the overlays are mounted
	Upper  string // Dir/upper, parent of every layer's upper directory
	Work   string // Dir/work, parent of every layer's work directory
	Layers []Layer
}

// Layer is one overlay mount of a Bundle. The first is the root file
// system; the others are mounted inside it.
type Layer struct {
	Target string // where it appears inside the sandbox: "/" or e.g. "/usr"
	Lower  string // read-only lower directory on the host
	Upper  string // writable upper directory, under Bundle.Upper
	Work   string // overlayfs work directory, under Bundle.Work
}

// CgroupParent is the cgroup under which container sandboxes get their own
// (CgroupParent/<id>, in every v1 hierarchy or in the v2 tree).
const CgroupParent = "/agentd"

// sandboxesDir is the directory under the state directory holding one
// directory per sandbox.
const sandboxesDir = "sandboxes"

// newBundle returns the layout of sandbox id in dir; it touches no file.
func newBundle(dir, id string) *Bundle {
	return &Bundle{
		ID:     id,
		Dir:    dir,
		Config: filepath.Join(dir, "config.json"),
		Rootfs: filepath.Join(dir, DefaultRootfs),
		Upper:  filepath.Join(dir, "upper"),
		Work:   filepath.Join(dir, "work"),
	}
}

// sandboxDir returns <stateDir>/sandboxes/<id> with stateDir made absolute
// and its symbolic links resolved, so that it matches the mount points the
// kernel reports. id must have been validated.
func sandboxDir(stateDir, id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return "", fmt.Errorf("state dir %q: %w", stateDir, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return securejoin.SecureJoin(abs, filepath.Join(sandboxesDir, id))
}

// writeConfig writes conf to path with write (WriteFileAtomic or
// ReplaceFile).
func writeConfig(path string, conf *specs.Spec, write func(string, []byte, fs.FileMode) error) error {
	data, err := json.MarshalIndent(conf, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding config.json: %w", err)
	}
	return write(path, data, 0o600)
}
