package client

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/agentd/agentd/supervisor/api"
)

// Copying runs tar inside the sandbox through Exec, so it needs a tar there
// (busybox's will do) and it can read and write exactly what the sandbox's
// commands can — no more. Names follow docker cp: when the destination is
// an existing directory the source keeps its name inside it; otherwise the
// destination is the new name.

// CopyFrom copies src, a file or directory in sandbox ref, to the local
// path dst.
func (c *Client) CopyFrom(ctx context.Context, ref, src, dst string) error {
	dir, base, err := splitSandboxPath(src)
	if err != nil {
		return err
	}
	localDir, name := dst, base
	if st, err := os.Stat(dst); err != nil || !st.IsDir() {
		localDir, name = filepath.Dir(dst), filepath.Base(dst)
		if st, err := os.Stat(localDir); err != nil || !st.IsDir() {
			return fmt.Errorf("copying to %s: %s is not a directory", dst, localDir)
		}
	}
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	type result struct {
		res *api.ExitResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Exec(ctx, ref, &api.ExecRequest{Args: []string{"tar", "-C", dir, "-cf", "-", base}},
			ExecIO{Stdout: pw, Stderr: &stderr})
		pw.Close()
		done <- result{res, err}
	}()
	exErr := extractTar(pr, localDir, base, name)
	if exErr == nil {
		_, _ = io.Copy(io.Discard, pr) // tar's trailing padding
	}
	pr.CloseWithError(errors.New("extraction stopped"))
	r := <-done
	if exErr != nil {
		return fmt.Errorf("copying %s: %w", src, exErr)
	}
	if err := tarResult("reading "+src, r.res, r.err, &stderr); err != nil {
		return err
	}
	return nil
}

// CopyTo copies the local file or directory src to dst in sandbox ref.
func (c *Client) CopyTo(ctx context.Context, ref, src, dst string) error {
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	dir, name, err := splitSandboxPath(dst)
	if err != nil {
		return err
	}
	res, err := c.Exec(ctx, ref, &api.ExecRequest{Args: []string{"test", "-d", path.Clean(dst)}}, ExecIO{})
	if err != nil {
		return err
	}
	if res.Code == 0 { // an existing directory: copy into it
		dir, name = path.Clean(dst), filepath.Base(src)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, src, name)) }()
	var stderr bytes.Buffer
	res, err = c.Exec(ctx, ref, &api.ExecRequest{Args: []string{"tar", "-C", dir, "-xf", "-"}},
		ExecIO{Stdin: pr, Stderr: &stderr})
	pr.Close()
	return tarResult("writing "+dst, res, err, &stderr)
}

// splitSandboxPath splits an absolute sandbox path into directory and name.
func splitSandboxPath(p string) (dir, base string, err error) {
	if !path.IsAbs(p) {
		return "", "", fmt.Errorf("%w: sandbox path %q must be absolute", api.ErrInvalidArgument, p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", "", fmt.Errorf("%w: cannot copy the sandbox's whole root; name a directory", api.ErrInvalidArgument)
	}
	return path.Dir(p), path.Base(p), nil
}

func tarResult(what string, res *api.ExitResult, err error, stderr *bytes.Buffer) error {
	switch {
	case err != nil:
		return err
	case res.Code == api.ExitNotFound:
		return fmt.Errorf("%s: cp needs tar inside the sandbox: %s", what, res.Error)
	case res.Code != 0:
		return fmt.Errorf("%s: tar exited %d: %s", what, res.Code, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// extractTar unpacks the archive r into dir, renaming its top entry from
// base to name. The archive comes from the sandbox and is not trusted:
// every path is resolved inside dir with securejoin, so neither ".." nor a
// symbolic link in the archive can write outside it.
func extractTar(r io.Reader, dir, base, name string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		rel := strings.TrimPrefix(path.Clean(h.Name), "./")
		if rel != base && !strings.HasPrefix(rel, base+"/") {
			return fmt.Errorf("archive entry %q is outside %q", h.Name, base)
		}
		target, err := securejoin.SecureJoin(dir, name+strings.TrimPrefix(rel, base))
		if err != nil {
			return err
		}
		if err := extractEntry(tr, h, dir, target); err != nil {
			return err
		}
	}
}

func extractEntry(tr *tar.Reader, h *tar.Header, dir, target string) error {
	mode := fs.FileMode(h.Mode) & fs.ModePerm
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o700); err != nil {
			return err
		}
		return os.Chmod(target, mode)
	case tar.TypeReg:
		_ = os.Remove(target)
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case tar.TypeSymlink:
		_ = os.Remove(target)
		return os.Symlink(h.Linkname, target)
	case tar.TypeLink:
		old, err := securejoin.SecureJoin(dir, h.Linkname)
		if err != nil {
			return err
		}
		_ = os.Remove(target)
		return os.Link(old, target)
	}
	return nil // devices, fifos: skipped
}

// writeTar archives src with its top entry named name.
func writeTar(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	root := filepath.Clean(src)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil // sockets and the like: skipped
		}
		rel, _ := filepath.Rel(root, p)
		h.Name = filepath.ToSlash(filepath.Join(name, rel))
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
