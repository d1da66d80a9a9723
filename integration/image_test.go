//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// testImage is the name the busybox image gets in containerd and podman.
// No registry is reachable, so the image is built here and imported.
const testImage = "localhost/agentd-busybox:test"

var (
	imageOnce sync.Once
	imagePath string
	imageErr  error
)

// busyboxImage returns an OCI image layout archive (the format of
// `ctr images import` and `podman load`) holding the busybox rootfs as one
// layer, named testImage. It is built once per test run, next to the rootfs.
func busyboxImage(t testing.TB) string {
	t.Helper()
	rootfs := busyboxRootfs(t)
	imageOnce.Do(func() {
		imagePath = filepath.Join(filepath.Dir(rootfs), "image.tar")
		imageErr = writeOCIArchive(imagePath, rootfs, testImage)
	})
	if imageErr != nil {
		t.Fatalf("building the busybox image: %v", imageErr)
	}
	return imagePath
}

// blob is one content-addressed file of an image layout.
type blob struct {
	mediaType string
	data      []byte
}

func (b blob) digest() string {
	sum := sha256.Sum256(b.data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (b blob) descriptor() map[string]any {
	return map[string]any{"mediaType": b.mediaType, "digest": b.digest(), "size": len(b.data)}
}

// writeOCIArchive writes a single-platform OCI image layout, as a tar file,
// whose one uncompressed layer is rootfs.
func writeOCIArchive(path, rootfs, name string) error {
	layerData, err := tarDir(rootfs)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	layer := blob{"application/vnd.oci.image.layer.v1.tar", layerData}
	config := blob{"application/vnd.oci.image.config.v1+json", mustJSON(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.digest()}},
	})}
	manifest := blob{"application/vnd.oci.image.manifest.v1+json", mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": config.descriptor(), "layers": []any{layer.descriptor()},
	})}
	desc := manifest.descriptor()
	// containerd names the image from the first annotation, podman from the
	// second.
	desc["annotations"] = map[string]string{
		"io.containerd.image.name":          name,
		"org.opencontainers.image.ref.name": name,
	}
	index := mustJSON(map[string]any{"schemaVersion": 2, "manifests": []any{desc}})

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	}
	for _, b := range []blob{layer, config, manifest} {
		files = append(files, struct {
			name string
			data []byte
		}{"blobs/sha256/" + b.digest()[len("sha256:"):], b.data})
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// epoch is the fixed modification time of everything in the image, so that
// two builds of the same rootfs give the same digests.
var epoch = time.Unix(0, 0).UTC()

// tarDir returns dir as an uncompressed tar stream owned by root: directories,
// regular files and symlinks (all a busybox rootfs has).
func tarDir(dir string) ([]byte, error) {
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name, hdr.ModTime = filepath.ToSlash(rel), epoch
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}
