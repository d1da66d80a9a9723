package runtime

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A signal that comes once CatchSignals is ready lands on its channel
// instead of having its default effect (USR1 and the real-time signal 40
// would end the test binary); TERM, one that stops a command line, does
// so as soon as CatchSignals returns.
func TestCatchSignals(t *testing.T) {
	sigs := CatchSignals()
	defer sigs.Stop()
	caught := func(sig unix.Signal) {
		t.Helper()
		if err := unix.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-sigs.ch:
			if got != sig {
				t.Errorf("caught %v, want %v", got, sig)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v sent to ourselves never reached the channel", sig)
		}
	}
	caught(unix.SIGTERM)
	sigs.Ready()
	caught(unix.SIGUSR1)
	caught(unix.Signal(40))
}
