package supervisor

import (
	"sync"
	"time"

	"github.com/agentd/agentd/supervisor/api"
)

// subscriberBuffer is how many events a subscriber may lag behind before it
// is dropped; a slow client must never stall the daemon.
const subscriberBuffer = 1024

// broker fans events out to the subscribers of GET /v1/events.
type broker struct {
	mu   sync.Mutex
	seq  uint64
	subs map[chan api.Event]struct{}
}

func newBroker() *broker {
	return &broker{subs: make(map[chan api.Event]struct{})}
}

// publish stamps e with a sequence number and time and sends it to every
// subscriber. A subscriber whose buffer is full is dropped: its channel is
// closed, which ends its stream.
func (b *broker) publish(e api.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// subscribe returns a channel of every event published from now on and a
// function that ends the subscription. The channel is closed when the
// subscription ends or the subscriber fell too far behind.
func (b *broker) subscribe() (<-chan api.Event, func()) {
	ch := make(chan api.Event, subscriberBuffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
}
