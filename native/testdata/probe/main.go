// Command probe makes, one at a time, the raw system calls a hostile
// command would make from inside a native sandbox, and prints the outcome:
// "<name>: ok" or "<name>: <error>". The integration tests build it and run
// it in sandboxes (integration/native_test.go).
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"unsafe"
)

// probes maps a name to the attempt; arg is the second argument (a pid, a
// port, a path or a socket name).
var probes = map[string]func(arg string) error{
	// ptrace attaches to pid arg, a process outside the sandbox.
	"ptrace": func(arg string) error {
		pid, _ := strconv.Atoi(arg)
		err := syscall.PtraceAttach(pid)
		if err == nil {
			syscall.PtraceDetach(pid)
		}
		return err
	},
	// ptrace-child attaches to a child of its own: same user, same
	// sandbox, so only seccomp refuses.
	"ptrace-child": func(string) error {
		child := exec.Command("sleep", "30")
		if err := child.Start(); err != nil {
			return err
		}
		defer child.Wait()
		defer child.Process.Kill()
		err := syscall.PtraceAttach(child.Process.Pid)
		if err == nil {
			syscall.PtraceDetach(child.Process.Pid)
		}
		return err
	},
	"mount":   func(arg string) error { return syscall.Mount("none", arg, "tmpfs", 0, "") },
	"unshare": func(string) error { return syscall.Unshare(syscall.CLONE_NEWUSER) },
	// clone-newuser forks into a new user namespace; the child exits at once.
	"clone-newuser": func(string) error {
		r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, syscall.CLONE_NEWUSER|uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if e != 0 {
			return e
		}
		if r == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		_, err := syscall.Wait4(int(r), nil, 0, nil)
		return err
	},
	"clone3": func(string) error {
		var args [88]byte
		return errno(syscall.RawSyscall(435, uintptr(unsafe.Pointer(&args[0])), 1, 0))
	},
	"io_uring": func(string) error {
		var params [120]byte
		r, _, e := syscall.RawSyscall(425, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if e == 0 {
			syscall.Close(int(r))
			return nil
		}
		return e
	},
	// keyctl asks for the session keyring's id (KEYCTL_GET_KEYRING_ID, -3).
	"keyctl": func(string) error { return errno(syscall.RawSyscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 1)) },
	"tcp":    func(arg string) error { return connectTCP(arg, 0) },
	"mptcp":  func(arg string) error { return connectTCP(arg, 262) },
	// sctp connects with IPPROTO_SCTP, which Landlock's TCP rules do not see.
	"sctp": func(arg string) error { return connectTCP(arg, 132) },
	// seqpacket opens an IPv4 SOCK_SEQPACKET socket of protocol 0: SCTP
	// when the sctp module is loaded.
	"seqpacket": func(string) error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_SEQPACKET, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return err
	},
	// vsock opens an AF_VSOCK socket (the hypervisor's and other VMs' side).
	"vsock": func(string) error {
		fd, err := syscall.Socket(40, syscall.SOCK_STREAM, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return err
	},
	// listen binds a TCP socket on 127.0.0.1:arg and listens.
	"listen": func(arg string) error {
		l, err := net.Listen("tcp4", "127.0.0.1:"+arg)
		if err != nil {
			return err
		}
		return l.Close()
	},
	"abstract": func(arg string) error {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		return syscall.Connect(fd, &syscall.SockaddrUnix{Name: "@" + arg})
	},
	"abstract-self": func(arg string) error {
		l, err := net.Listen("unix", "@"+arg)
		if err != nil {
			return err
		}
		go l.Accept()
		_, err = net.Dial("unix", "@"+arg)
		return err
	},
	"kill": func(arg string) error {
		pid, _ := strconv.Atoi(arg)
		return syscall.Kill(pid, syscall.SIGTERM)
	},
	// alloc touches arg MiB of memory.
	"alloc": func(arg string) error {
		mib, _ := strconv.Atoi(arg)
		b := make([]byte, mib<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		return nil
	},
	"fork": func(string) error { return exec.Command("/bin/true").Run() },
	// tiocsti pushes a character into the input of the terminal on fd 0.
	// ioctl opens the device arg and asks for its terminal settings
	// (TCGETS): ENOTTY when the ioctl reaches a device that is no terminal,
	// EACCES when Landlock refuses device ioctls on it.
	"ioctl": func(arg string) error {
		fd, err := syscall.Open(arg, syscall.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		var t syscall.Termios
		return errno(syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t))))
	},
	"tiocsti": func(string) error {
		c := byte('x')
		return errno(syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCSTI, uintptr(unsafe.Pointer(&c))))
	},
}

// connectTCP connects to 127.0.0.1:port with protocol proto.
func connectTCP(port string, proto int) error {
	p, _ := strconv.Atoi(port)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, proto)
	if err != nil {
		return err
	}
	return syscall.Connect(fd, &syscall.SockaddrInet4{Port: p, Addr: [4]byte{127, 0, 0, 1}})
}

func errno(_, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func main() {
	if len(os.Args) < 2 || probes[os.Args[1]] == nil {
		fmt.Println("usage: probe NAME [ARG]")
		os.Exit(2)
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	if err := probes[os.Args[1]](arg); err != nil {
		fmt.Printf("%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Printf("%s: ok\n", os.Args[1])
}
