// Command server is a grpc-go (Debian's 1.33) interop test server for rill's
// interop matrix. It implements grpc.testing.TestService as described in
// grpc/grpc doc/interop-test-descriptions.md ("Server" section).
//
// Known limitation of grpc-go 1.33: a handler cannot choose whether its
// response is compressed (grpc-go answers with the request's encoding), so
// the CompressedResponse feature is answered with UNIMPLEMENTED; interop/run
// marks server_compressed_* against this server as n/a. CompressedRequest
// (expect_compressed) is checked.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed requests
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	pb "rillpeer/grpc_testing"
)

const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
	maxMessageSize  = 32 << 20
	grpcHeaderLen   = 5
)

var (
	port    = flag.Int("port", 10000, "port to listen on (127.0.0.1)")
	host    = flag.String("host", "127.0.0.1", "address to listen on")
	useTLS  = flag.Bool("use_tls", false, "serve TLS with --tls_cert_file/--tls_key_file")
	tlsCert = flag.String("tls_cert_file", "/usr/share/gocode/src/google.golang.org/grpc/testdata/server1.pem", "TLS certificate")
	tlsKey  = flag.String("tls_key_file", "/usr/share/gocode/src/google.golang.org/grpc/testdata/server1.key", "TLS key")
)

// compressionTracker records, per RPC, whether the last received message
// arrived compressed. grpc-go 1.33 does not expose the per-message
// compressed flag to handlers, but its stats handler reports both the wire
// length and the decompressed length of every inbound message, and the two
// differ exactly when the message was compressed (for the payloads of the
// interop cases, which are runs of zeros).
type compressionTracker struct {
	mu         sync.Mutex
	compressed bool
	seen       bool
}

type trackerKey struct{}

type statsHandler struct{}

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, trackerKey{}, &compressionTracker{})
}

func (statsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	in, ok := s.(*stats.InPayload)
	if !ok {
		return
	}
	if t, ok := ctx.Value(trackerKey{}).(*compressionTracker); ok {
		t.mu.Lock()
		t.seen = true
		t.compressed = in.WireLength-grpcHeaderLen != in.Length
		t.mu.Unlock()
	}
}

func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (statsHandler) HandleConn(context.Context, stats.ConnStats)                       {}

// checkCompression enforces the CompressedRequest feature for the message
// that was just received on ctx's RPC.
func checkCompression(ctx context.Context, expect *pb.BoolValue) error {
	if expect == nil {
		return nil
	}
	t, ok := ctx.Value(trackerKey{}).(*compressionTracker)
	if !ok {
		return status.Error(codes.Internal, "compression tracker missing")
	}
	t.mu.Lock()
	compressed, seen := t.compressed, t.seen
	t.mu.Unlock()
	if !seen {
		return status.Error(codes.Internal, "no inbound message recorded")
	}
	if expect.GetValue() && !compressed {
		return status.Error(codes.InvalidArgument, "expected a compressed request, got an uncompressed one")
	}
	if !expect.GetValue() && compressed {
		return status.Error(codes.InvalidArgument, "expected an uncompressed request, got a compressed one")
	}
	return nil
}

func newPayload(t pb.PayloadType, size int32) (*pb.Payload, error) {
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "negative response size %d", size)
	}
	if t != pb.PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported payload type %v", t)
	}
	return &pb.Payload{Type: t, Body: make([]byte, size)}, nil
}

// checkResponseCompression answers a request for a compressed response:
// grpc-go 1.33 compresses a response only when the request itself was
// compressed, and a handler cannot change that.
func checkResponseCompression(flag *pb.BoolValue) error {
	if flag.GetValue() {
		return status.Error(codes.Unimplemented, "grpc-go 1.33 servers cannot choose to compress a response")
	}
	return nil
}

func echoStatus(s *pb.EchoStatus) error {
	if s == nil || s.GetCode() == 0 {
		return nil
	}
	return status.Error(codes.Code(s.GetCode()), s.GetMessage())
}

type server struct {
	pb.UnimplementedTestServiceServer
}

func (server) EmptyCall(context.Context, *pb.Empty) (*pb.Empty, error) {
	return &pb.Empty{}, nil
}

func (server) UnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	if err := checkCompression(ctx, in.GetExpectCompressed()); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	if err := checkResponseCompression(in.GetResponseCompressed()); err != nil {
		return nil, err
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	// fill_username / fill_oauth_scope: no authentication here, left empty.
	return &pb.SimpleResponse{Payload: pl}, nil
}

func (server) CacheableUnaryCall(ctx context.Context, in *pb.SimpleRequest) (*pb.SimpleResponse, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("cache-control", "max-age=60, public"))
	body := []byte(strconv.FormatInt(time.Now().UnixNano(), 10))
	return &pb.SimpleResponse{Payload: &pb.Payload{Body: body}}, nil
}

func sendParams(stream interface {
	Send(*pb.StreamingOutputCallResponse) error
}, rt pb.PayloadType, params []*pb.ResponseParameters) error {
	for _, p := range params {
		if err := checkResponseCompression(p.GetCompressed()); err != nil {
			return err
		}
		if us := p.GetIntervalUs(); us > 0 {
			time.Sleep(time.Duration(us) * time.Microsecond)
		}
		pl, err := newPayload(rt, p.GetSize())
		if err != nil {
			return err
		}
		if err := stream.Send(&pb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

func (server) StreamingOutputCall(in *pb.StreamingOutputCallRequest, stream pb.TestService_StreamingOutputCallServer) error {
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	return sendParams(stream, in.GetResponseType(), in.GetResponseParameters())
}

func (server) StreamingInputCall(stream pb.TestService_StreamingInputCallServer) error {
	var sum int32
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&pb.StreamingInputCallResponse{AggregatedPayloadSize: sum})
		}
		if err != nil {
			return err
		}
		if err := checkCompression(stream.Context(), in.GetExpectCompressed()); err != nil {
			return err
		}
		sum += int32(len(in.GetPayload().GetBody()))
	}
}

func (server) FullDuplexCall(stream pb.TestService_FullDuplexCallServer) error {
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		if err := sendParams(stream, in.GetResponseType(), in.GetResponseParameters()); err != nil {
			return err
		}
	}
}

func (server) HalfDuplexCall(stream pb.TestService_HalfDuplexCallServer) error {
	var all []*pb.StreamingOutputCallRequest
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := echoStatus(in.GetResponseStatus()); err != nil {
			return err
		}
		all = append(all, in)
	}
	for _, in := range all {
		if err := sendParams(stream, in.GetResponseType(), in.GetResponseParameters()); err != nil {
			return err
		}
	}
	return nil
}

// echoMetadata implements the Echo Metadata feature for every method.
func echoMetadata(ctx context.Context) (header, trailer metadata.MD) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(echoInitialKey); len(v) > 0 {
		header = metadata.Pairs(echoInitialKey, v[0])
	}
	if v := md.Get(echoTrailingKey); len(v) > 0 {
		trailer = metadata.Pairs(echoTrailingKey, v[0])
	}
	return header, trailer
}

func unaryEcho(ctx context.Context, req interface{}, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (interface{}, error) {
	h, t := echoMetadata(ctx)
	if h != nil {
		if err := grpc.SendHeader(ctx, h); err != nil {
			return nil, err
		}
	}
	if t != nil {
		if err := grpc.SetTrailer(ctx, t); err != nil {
			return nil, err
		}
	}
	return handler(ctx, req)
}

func streamEcho(srv interface{}, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	h, t := echoMetadata(ss.Context())
	if h != nil {
		if err := ss.SendHeader(h); err != nil {
			return err
		}
	}
	if t != nil {
		ss.SetTrailer(t)
	}
	return handler(srv, ss)
}

func main() {
	flag.Parse()
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
		grpc.StatsHandler(statsHandler{}),
		grpc.UnaryInterceptor(unaryEcho),
		grpc.StreamInterceptor(streamEcho),
	}
	if *useTLS {
		creds, err := credentials.NewServerTLSFromFile(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatalf("TLS: %v", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen: %v\n", err)
		os.Exit(1)
	}
	s := grpc.NewServer(opts...)
	pb.RegisterTestServiceServer(s, server{})
	fmt.Printf("grpc-go %s interop server listening on %s\n", grpc.Version, lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
