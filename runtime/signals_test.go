package runtime

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A signal that comes once CatchSignals is ready lands on its channel
// instead of having its default effect (USR1 and the real-time signal 40 would end the
// test binary), and Stop lets go of it.
func TestCatchSignals(t *testing.T) {
	sigs := CatchSignals()
	sigs.Ready()
	for _, sig := range []unix.Signal{unix.SIGUSR1, unix.Signal(40)} {
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
	sigs.Stop()
	select {
	case <-sigs.ready:
	default:
		t.Error("Stop returned before the signals were caught")
	}
}
