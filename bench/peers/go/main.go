// grpc-go peer for rill's benchmark: grpc.testing.BenchmarkService as grpc-go's own
// benchmark server implements it (benchmark/benchmark.go), built in GOPATH mode against
// Debian's grpc-go 1.33.
//
//	bench-server-go --listen 127.0.0.1:50054 --workers 1
//
// --workers sets GOMAXPROCS. Replies carry response_size zero bytes (no payload for 0).
package main

import (
	"flag"
	"context"
	"io"
	"log"
	"net"
	"runtime"

	"google.golang.org/grpc"

	pb "rillbench/grpc/testing"
)

type server struct {
	pb.UnimplementedBenchmarkServiceServer
}

func reply(req *pb.SimpleRequest) *pb.SimpleResponse {
	resp := &pb.SimpleResponse{}
	if req.ResponseSize > 0 {
		resp.Payload = &pb.Payload{Type: req.ResponseType, Body: make([]byte, req.ResponseSize)}
	}
	return resp
}

func (s *server) UnaryCall(_ context.Context, req *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	return reply(req), nil
}

// Ping-pong: one reply per request until the client half-closes.
func (s *server) StreamingCall(stream pb.BenchmarkService_StreamingCallServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(reply(req)); err != nil {
			return err
		}
	}
}

// Reads until the client half-closes, then answers for the last request.
func (s *server) StreamingFromClient(stream pb.BenchmarkService_StreamingFromClientServer) error {
	last := &pb.SimpleRequest{}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(reply(last))
		}
		if err != nil {
			return err
		}
		last = req
	}
}

// Answers the one request again and again until the client cancels.
func (s *server) StreamingFromServer(req *pb.SimpleRequest, stream pb.BenchmarkService_StreamingFromServerServer) error {
	resp := reply(req)
	for {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// Sends without waiting for the client while draining what it sends.
func (s *server) StreamingBothWays(stream pb.BenchmarkService_StreamingBothWaysServer) error {
	first, err := stream.Recv()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	}()
	resp := reply(first)
	for {
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:50054", "address to listen on")
	workers := flag.Int("workers", 1, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen %s: %v", *listen, err)
	}
	s := grpc.NewServer()
	pb.RegisterBenchmarkServiceServer(s, &server{})
	log.Printf("grpc-go %s bench server on %s (GOMAXPROCS %d)", grpc.Version, *listen, *workers)
	if err := s.Serve(lis); err != nil {
		log.Fatal(err)
	}
}
