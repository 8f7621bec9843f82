// The Go side of the interop check: go-micro's own HTTP broker (its default) on
// go-micro's mDNS registry, driven from the command line by interop.mjs (see run.sh).
//
//	peer subscribe <topic> [queue]   subscribe; one JSON line per message; SIGTERM unsubscribes
//	peer publish <topic> <count>     publish count messages, then wait for the async sends
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go-micro.dev/v6/broker"
	"go-micro.dev/v6/registry"
)

func say(v any) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func main() {
	reg := registry.NewMDNSRegistry(registry.Timeout(time.Second))
	b := broker.NewHttpBroker(broker.Registry(reg))
	if err := b.Connect(); err != nil {
		say(map[string]string{"error": err.Error()})
		os.Exit(1)
	}
	switch os.Args[1] {
	case "subscribe":
		var opts []broker.SubscribeOption
		if len(os.Args) > 3 {
			opts = append(opts, broker.Queue(os.Args[3]))
		}
		sub, err := b.Subscribe(os.Args[2], func(e broker.Event) error {
			say(map[string]any{"got": string(e.Message().Body), "header": e.Message().Header, "topic": e.Topic()})
			return nil
		}, opts...)
		if err != nil {
			say(map[string]string{"error": err.Error()})
			os.Exit(1)
		}
		say(map[string]string{"ready": b.Address()})
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		_ = sub.Unsubscribe()
		_ = b.Disconnect()
		time.Sleep(200 * time.Millisecond)
		say(map[string]bool{"stopped": true})
	case "publish":
		count, _ := strconv.Atoi(os.Args[3])
		for i := 0; i < count; i++ {
			msg := &broker.Message{
				Header: map[string]string{"Content-Type": "text/plain", "X-From": "go"},
				Body:   []byte(fmt.Sprintf("go%d", i)),
			}
			if err := b.Publish(os.Args[2], msg); err != nil {
				say(map[string]string{"error": err.Error()})
				os.Exit(1)
			}
		}
		// go-micro's Publish returns before it sends (a goroutine drains an inbox).
		time.Sleep(2 * time.Second)
		say(map[string]int{"published": count})
	}
}
