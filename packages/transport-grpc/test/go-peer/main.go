// Command go-peer is a Go peer of go-micro's gRPC transport for the interop test
// (test/go-interop.integration.test.ts). It behaves as go-micro's
// transport/grpc does: the listener runs one handler per Stream call that
// receives until Recv fails and returns (ending the stream with status OK);
// the dialer makes one ClientConn and one Stream per conversation and closes
// the ClientConn when done. It is written with grpc-go and protobuf-go (the
// Message type is built from a descriptor with dynamicpb, which encodes as
// generated code does), so the test exercises Go's HTTP/2, gRPC and protobuf
// implementations, not this package's.
//
//	go-peer serve                 prints its address, then echoes every message
//	                              with the header "Go: yes" until stdin closes
//	go-peer dial ADDRESS          reads JSON messages {"header":{},"body":"<base64>"}
//	                              from stdin, one per line; sends each and prints
//	                              the reply as JSON, or {"error":"<code>: ..."}
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const streamPath = "/go.micro.transport.grpc.Transport/Stream"

// messageDescriptor builds go.micro.transport.grpc.Message from proto/transport.proto.
func messageDescriptor() protoreflect.MessageDescriptor {
	optional := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	repeated := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("transport.proto"),
		Package: proto.String("go.micro.transport.grpc"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Message"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{
					Name: proto.String("header"), JsonName: proto.String("header"), Number: proto.Int32(1),
					Label: repeated.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
					TypeName: proto.String(".go.micro.transport.grpc.Message.HeaderEntry"),
				},
				{
					Name: proto.String("body"), JsonName: proto.String("body"), Number: proto.Int32(2),
					Label: optional.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum(),
				},
			},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("HeaderEntry"),
				Field: []*descriptorpb.FieldDescriptorProto{
					{Name: proto.String("key"), JsonName: proto.String("key"), Number: proto.Int32(1), Label: optional.Enum(), Type: str.Enum()},
					{Name: proto.String("value"), JsonName: proto.String("value"), Number: proto.Int32(2), Label: optional.Enum(), Type: str.Enum()},
				},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			}},
		}},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		panic(err)
	}
	return fd.Messages().ByName("Message")
}

var md = messageDescriptor()

type message struct {
	Header map[string]string `json:"header"`
	Body   []byte            `json:"body"`
}

func toProto(m message) *dynamicpb.Message {
	pm := dynamicpb.NewMessage(md)
	header := pm.Mutable(md.Fields().ByName("header")).Map()
	for k, v := range m.Header {
		header.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(v))
	}
	if len(m.Body) > 0 {
		pm.Set(md.Fields().ByName("body"), protoreflect.ValueOfBytes(m.Body))
	}
	return pm
}

func fromProto(pm *dynamicpb.Message) message {
	m := message{Header: map[string]string{}, Body: pm.Get(md.Fields().ByName("body")).Bytes()}
	pm.Get(md.Fields().ByName("header")).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		m.Header[k.String()] = v.String()
		return true
	})
	return m
}

var streamDesc = grpc.StreamDesc{StreamName: "Stream", ServerStreams: true, ClientStreams: true}

func serve() {
	server := grpc.NewServer()
	desc := streamDesc
	desc.Handler = func(_ interface{}, stream grpc.ServerStream) error {
		for {
			in := dynamicpb.NewMessage(md)
			if err := stream.RecvMsg(in); err != nil {
				return nil // go-micro's handler returns when Recv fails: status OK
			}
			m := fromProto(in)
			m.Header["Go"] = "yes"
			if err := stream.SendMsg(toProto(m)); err != nil {
				return nil
			}
		}
	}
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "go.micro.transport.grpc.Transport",
		HandlerType: (*interface{})(nil),
		Streams:     []grpc.StreamDesc{desc},
	}, struct{}{})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(listener.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		server.Stop()
	}()
	_ = server.Serve(listener)
}

func dial(address string) {
	out := json.NewEncoder(os.Stdout)
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for lines.Scan() {
		var m message
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			panic(err)
		}
		reply, err := exchange(address, m)
		if err != nil {
			s, _ := status.FromError(err)
			_ = out.Encode(map[string]string{"error": fmt.Sprintf("%s: %s", s.Code(), s.Message())})
			continue
		}
		_ = out.Encode(reply)
	}
}

// exchange is one go-micro conversation: Dial (a new ClientConn and Stream), Send, Recv, Close.
func exchange(address string, m message) (message, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return message{}, err
	}
	defer conn.Close()
	stream, err := conn.NewStream(context.Background(), &streamDesc, streamPath)
	if err != nil {
		return message{}, err
	}
	if err := stream.SendMsg(toProto(m)); err != nil {
		return message{}, err
	}
	in := dynamicpb.NewMessage(md)
	if err := stream.RecvMsg(in); err != nil {
		return message{}, err
	}
	return fromProto(in), nil
}

func main() {
	switch os.Args[1] {
	case "serve":
		serve()
	case "dial":
		dial(os.Args[2])
	}
}
