// The Go side of the interop check: go-micro's own mDNS registry, driven from the
// command line by interop.mjs (see run.sh).
//
//	peer register <service> <nodeId> <address> <version>   register, wait for SIGTERM, deregister
//	peer get <service>                                        GetService as JSON
//	peer list                                                 ListServices as JSON
//	peer watch <duration>                                     one JSON line per watch result
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go-micro.dev/v6/registry"
)

func main() {
	r := registry.NewMDNSRegistry(registry.Timeout(time.Second))
	switch os.Args[1] {
	case "register":
		svc := &registry.Service{
			Name:    os.Args[2],
			Version: os.Args[5],
			Endpoints: []*registry.Endpoint{{
				Name:     "Greeter.Hello",
				Request:  &registry.Value{Name: "Request", Type: "Request", Values: []*registry.Value{{Name: "name", Type: "string"}}},
				Response: &registry.Value{Name: "Response", Type: "Response"},
				Metadata: map[string]string{"description": "says <hello> & more"},
			}},
			Nodes: []*registry.Node{{Id: os.Args[3], Address: os.Args[4], Metadata: map[string]string{"protocol": "mucp", "transport": "http", "registry": "mdns"}}},
		}
		if err := r.Register(svc); err != nil {
			panic(err)
		}
		fmt.Println("registered")
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		_ = r.Deregister(svc)
		time.Sleep(200 * time.Millisecond)
		fmt.Println("deregistered")
	case "get":
		s, err := r.GetService(os.Args[2])
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		b, _ := json.Marshal(s)
		fmt.Println(string(b))
	case "list":
		s, err := r.ListServices()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		b, _ := json.Marshal(s)
		fmt.Println(string(b))
	case "watch":
		w, err := r.Watch()
		if err != nil {
			panic(err)
		}
		d, _ := time.ParseDuration(os.Args[2])
		go func() { time.Sleep(d); w.Stop() }()
		fmt.Println("watching")
		for {
			res, err := w.Next()
			if err != nil {
				return
			}
			b, _ := json.Marshal(res)
			fmt.Println(string(b))
		}
	}
}
