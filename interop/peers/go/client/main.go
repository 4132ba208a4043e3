// Command client is a grpc-go (Debian's 1.33) interop test client for rill's
// interop matrix. It implements the non-cloud test cases of grpc/grpc
// doc/interop-test-descriptions.md. Exit status: 0 pass, 1 fail (reason on
// stderr), 3 case not implemented by this client ("n/a: reason").
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	pb "rillpeer/grpc_testing"
)

var (
	serverHost         = flag.String("server_host", "127.0.0.1", "server host")
	serverHostOverride = flag.String("server_host_override", "", "TLS server name / :authority override")
	serverPort         = flag.Int("server_port", 10000, "server port")
	testCase           = flag.String("test_case", "large_unary", "test case to run")
	useTLS             = flag.Bool("use_tls", false, "use TLS")
	useTestCA          = flag.Bool("use_test_ca", false, "trust --ca_file instead of the system roots")
	caFile             = flag.String("ca_file", "/usr/share/gocode/src/google.golang.org/grpc/testdata/ca.pem", "test CA file")
	soakIterations     = flag.Int("soak_iterations", 10, "iterations of rpc_soak / channel_soak")
	soakMaxFailures    = flag.Int("soak_max_failures", 0, "soak iterations allowed to fail")
	soakMaxLatencyMs   = flag.Int("soak_per_iteration_max_acceptable_latency_ms", 1000, "max latency of one soak iteration")
	soakOverallTimeout = flag.Int("soak_overall_timeout_seconds", 60, "overall soak time limit")
	soakMinTimeBetween = flag.Int("soak_min_time_ms_between_rpcs", 0, "minimum time between soak RPCs")
	soakRequestSize    = flag.Int("soak_request_size", 271828, "soak request payload size")
	soakResponseSize   = flag.Int("soak_response_size", 314159, "soak response payload size")
	// Accepted for compatibility with the official runners; unused here.
	_ = flag.String("default_service_account", "", "unused (cloud cases are not implemented)")
	_ = flag.String("oauth_scope", "", "unused (cloud cases are not implemented)")
	_ = flag.String("service_account_key_file", "", "unused (cloud cases are not implemented)")
	_ = flag.String("service_config_json", "", "unused")
)

const (
	echoInitialKey   = "x-grpc-test-echo-initial"
	echoInitialValue = "test_initial_metadata_value"
	echoTrailingKey  = "x-grpc-test-echo-trailing-bin"
	maxMessageSize   = 32 << 20
	grpcHeaderLen    = 5
	rpcTimeout       = 30 * time.Second
)

var echoTrailingValue = string([]byte{0xab, 0xab, 0xab})

// failure aborts the test case with a reason.
type failure struct{ msg string }

func failf(format string, a ...interface{}) { panic(failure{fmt.Sprintf(format, a...)}) }

type notApplicable struct{ reason string }

func notApplicablef(format string, a ...interface{}) {
	panic(notApplicable{fmt.Sprintf(format, a...)})
}

// recvTracker records the compressed flag of every inbound message of one
// call. grpc-go 1.33 does not expose the flag, but its stats handler reports
// the wire length and the decompressed length of each message; they differ
// exactly when the message was compressed (always, for runs of zeros).
type recvTracker struct {
	mu         sync.Mutex
	compressed []bool
}

type trackerKey struct{}

func withTracker(ctx context.Context) (context.Context, *recvTracker) {
	t := &recvTracker{}
	return context.WithValue(ctx, trackerKey{}, t), t
}

func (t *recvTracker) flags() []bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]bool(nil), t.compressed...)
}

type statsHandler struct{}

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (statsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	in, ok := s.(*stats.InPayload)
	if !ok || !in.Client {
		return
	}
	if t, ok := ctx.Value(trackerKey{}).(*recvTracker); ok {
		t.mu.Lock()
		t.compressed = append(t.compressed, in.WireLength-grpcHeaderLen != in.Length)
		t.mu.Unlock()
	}
}
func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (statsHandler) HandleConn(context.Context, stats.ConnStats)                       {}

func dial() *grpc.ClientConn {
	addr := net.JoinHostPort(*serverHost, strconv.Itoa(*serverPort))
	opts := []grpc.DialOption{
		grpc.WithStatsHandler(statsHandler{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	}
	if *useTLS {
		var creds credentials.TransportCredentials
		var err error
		if *useTestCA {
			creds, err = credentials.NewClientTLSFromFile(*caFile, *serverHostOverride)
			if err != nil {
				failf("loading CA %s: %v", *caFile, err)
			}
		} else {
			creds = credentials.NewClientTLSFromCert(nil, *serverHostOverride)
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	} else {
		opts = append(opts, grpc.WithInsecure())
		if *serverHostOverride != "" {
			opts = append(opts, grpc.WithAuthority(*serverHostOverride))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, append(opts, grpc.WithBlock())...)
	if err != nil {
		failf("dial %s: %v", addr, err)
	}
	return conn
}

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), rpcTimeout)
}

func zeros(n int) *pb.Payload { return &pb.Payload{Body: make([]byte, n)} }

func checkBody(what string, p *pb.Payload, size int) {
	body := p.GetBody()
	if len(body) != size {
		failf("%s: payload body is %d bytes, want %d", what, len(body), size)
	}
	if !bytes.Equal(body, make([]byte, size)) {
		failf("%s: payload body is not all zeros", what)
	}
}

func wantCode(what string, err error, code codes.Code) {
	if status.Code(err) != code {
		failf("%s: got status %v (%v), want %v", what, status.Code(err), err, code)
	}
}

func emptyUnary(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	r, err := tc.EmptyCall(ctx, &pb.Empty{})
	if err != nil {
		failf("EmptyCall: %v", err)
	}
	if r == nil {
		failf("EmptyCall returned nil")
	}
}

func largeUnaryWith(tc pb.TestServiceClient, reqSize, respSize int) {
	ctx, cancel := callCtx()
	defer cancel()
	r, err := tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseSize: int32(respSize), Payload: zeros(reqSize)})
	if err != nil {
		failf("UnaryCall: %v", err)
	}
	checkBody("UnaryCall response", r.GetPayload(), respSize)
}

func largeUnary(tc pb.TestServiceClient) { largeUnaryWith(tc, 271828, 314159) }

func clientCompressedUnary(tc pb.TestServiceClient) {
	req := func(expect bool) *pb.SimpleRequest {
		return &pb.SimpleRequest{ExpectCompressed: &pb.BoolValue{Value: expect}, ResponseSize: 314159, Payload: zeros(271828)}
	}
	ctx, cancel := callCtx()
	defer cancel()
	_, err := tc.UnaryCall(ctx, req(true))
	wantCode("probe (uncompressed, expect_compressed=true)", err, codes.InvalidArgument)
	r, err := tc.UnaryCall(ctx, req(true), grpc.UseCompressor(gzip.Name))
	if err != nil {
		failf("compressed UnaryCall: %v", err)
	}
	checkBody("compressed UnaryCall response", r.GetPayload(), 314159)
	r, err = tc.UnaryCall(ctx, req(false))
	if err != nil {
		failf("uncompressed UnaryCall: %v", err)
	}
	checkBody("uncompressed UnaryCall response", r.GetPayload(), 314159)
}

// acceptGzip advertises gzip support. grpc-go 1.33 only sends
// grpc-accept-encoding when it compresses the request itself.
func acceptGzip(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "grpc-accept-encoding", "gzip")
}

func serverCompressedUnary(tc pb.TestServiceClient) {
	for _, compressed := range []bool{true, false} {
		ctx, cancel := callCtx()
		ctx, tr := withTracker(acceptGzip(ctx))
		r, err := tc.UnaryCall(ctx, &pb.SimpleRequest{
			ResponseCompressed: &pb.BoolValue{Value: compressed}, ResponseSize: 314159, Payload: zeros(271828),
		})
		cancel()
		if err != nil {
			failf("UnaryCall (response_compressed=%v): %v", compressed, err)
		}
		checkBody("UnaryCall response", r.GetPayload(), 314159)
		if f := tr.flags(); len(f) != 1 || f[0] != compressed {
			failf("response_compressed=%v: response compressed flags %v", compressed, f)
		}
	}
}

func clientStreaming(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	stream, err := tc.StreamingInputCall(ctx)
	if err != nil {
		failf("StreamingInputCall: %v", err)
	}
	for _, n := range []int{27182, 8, 1828, 45904} {
		if err := stream.Send(&pb.StreamingInputCallRequest{Payload: zeros(n)}); err != nil {
			failf("Send(%d): %v", n, err)
		}
	}
	r, err := stream.CloseAndRecv()
	if err != nil {
		failf("CloseAndRecv: %v", err)
	}
	if got := r.GetAggregatedPayloadSize(); got != 74922 {
		failf("aggregated_payload_size %d, want 74922", got)
	}
}

func clientCompressedStreaming(pb.TestServiceClient) {
	notApplicablef("grpc-go 1.33 compresses a whole stream or none of it; it cannot send the uncompressed second message")
}

func serverStreaming(tc pb.TestServiceClient) {
	sizes := []int{31415, 9, 2653, 58979}
	req := &pb.StreamingOutputCallRequest{}
	for _, s := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &pb.ResponseParameters{Size: int32(s)})
	}
	ctx, cancel := callCtx()
	defer cancel()
	stream, err := tc.StreamingOutputCall(ctx, req)
	if err != nil {
		failf("StreamingOutputCall: %v", err)
	}
	readAll(stream, sizes)
}

func readAll(stream interface {
	Recv() (*pb.StreamingOutputCallResponse, error)
}, sizes []int) {
	i := 0
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			failf("Recv after %d responses: %v", i, err)
		}
		if i >= len(sizes) {
			failf("more than %d responses", len(sizes))
		}
		checkBody(fmt.Sprintf("response %d", i), r.GetPayload(), sizes[i])
		i++
	}
	if i != len(sizes) {
		failf("got %d responses, want %d", i, len(sizes))
	}
}

func serverCompressedStreaming(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	ctx, tr := withTracker(acceptGzip(ctx))
	stream, err := tc.StreamingOutputCall(ctx, &pb.StreamingOutputCallRequest{ResponseParameters: []*pb.ResponseParameters{
		{Compressed: &pb.BoolValue{Value: true}, Size: 31415},
		{Compressed: &pb.BoolValue{Value: false}, Size: 92653},
	}})
	if err != nil {
		failf("StreamingOutputCall: %v", err)
	}
	readAll(stream, []int{31415, 92653})
	if f := tr.flags(); len(f) != 2 || !f[0] || f[1] {
		failf("response compressed flags %v, want [true false]", f)
	}
}

func pingPong(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		failf("FullDuplexCall: %v", err)
	}
	resp := []int{31415, 9, 2653, 58979}
	req := []int{27182, 8, 1828, 45904}
	for i := range resp {
		if err := stream.Send(&pb.StreamingOutputCallRequest{
			ResponseParameters: []*pb.ResponseParameters{{Size: int32(resp[i])}}, Payload: zeros(req[i]),
		}); err != nil {
			failf("Send %d: %v", i, err)
		}
		r, err := stream.Recv()
		if err != nil {
			failf("Recv %d: %v", i, err)
		}
		checkBody(fmt.Sprintf("response %d", i), r.GetPayload(), resp[i])
	}
	if err := stream.CloseSend(); err != nil {
		failf("CloseSend: %v", err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		failf("after half-close: got %v, want end of stream with OK", err)
	}
}

func emptyStream(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		failf("FullDuplexCall: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		failf("CloseSend: %v", err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		failf("got %v, want zero responses and OK", err)
	}
}

func cancelAfterBegin(tc pb.TestServiceClient) {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := tc.StreamingInputCall(ctx)
	if err != nil {
		failf("StreamingInputCall: %v", err)
	}
	cancel()
	_, err = stream.CloseAndRecv()
	wantCode("cancelled StreamingInputCall", err, codes.Canceled)
}

func cancelAfterFirstResponse(tc pb.TestServiceClient) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		failf("FullDuplexCall: %v", err)
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{
		ResponseParameters: []*pb.ResponseParameters{{Size: 31415}}, Payload: zeros(27182),
	}); err != nil {
		failf("Send: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		failf("Recv: %v", err)
	}
	cancel()
	_, err = stream.Recv()
	wantCode("cancelled FullDuplexCall", err, codes.Canceled)
}

func timeoutOnSleepingServer(tc pb.TestServiceClient) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		wantCode("FullDuplexCall", err, codes.DeadlineExceeded)
		return
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{Payload: zeros(27182)}); err != nil && err != io.EOF {
		wantCode("Send", err, codes.DeadlineExceeded)
	}
	_, err = stream.Recv()
	wantCode("Recv", err, codes.DeadlineExceeded)
}

func checkEchoedMetadata(what string, header, trailer metadata.MD) {
	if v := header.Get(echoInitialKey); len(v) != 1 || v[0] != echoInitialValue {
		failf("%s: initial metadata %s = %q, want [%q]", what, echoInitialKey, v, echoInitialValue)
	}
	if v := trailer.Get(echoTrailingKey); len(v) != 1 || v[0] != echoTrailingValue {
		failf("%s: trailing metadata %s = %q, want [%q]", what, echoTrailingKey, v, echoTrailingValue)
	}
}

func customMetadata(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, echoInitialKey, echoInitialValue, echoTrailingKey, echoTrailingValue)
	var header, trailer metadata.MD
	r, err := tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseSize: 314159, Payload: zeros(271828)},
		grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		failf("UnaryCall: %v", err)
	}
	checkBody("UnaryCall response", r.GetPayload(), 314159)
	checkEchoedMetadata("UnaryCall", header, trailer)

	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		failf("FullDuplexCall: %v", err)
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{
		ResponseParameters: []*pb.ResponseParameters{{Size: 314159}}, Payload: zeros(271828),
	}); err != nil {
		failf("Send: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		failf("CloseSend: %v", err)
	}
	header, err = stream.Header()
	if err != nil {
		failf("Header: %v", err)
	}
	readAll(stream, []int{314159})
	checkEchoedMetadata("FullDuplexCall", header, stream.Trailer())
}

func checkStatus(what string, err error, code codes.Code, msg string) {
	st, _ := status.FromError(err)
	if st.Code() != code || st.Message() != msg {
		failf("%s: got status %v %q, want %v %q", what, st.Code(), st.Message(), code, msg)
	}
}

func statusCodeAndMessage(tc pb.TestServiceClient) {
	const msg = "test status message"
	es := &pb.EchoStatus{Code: 2, Message: msg}
	ctx, cancel := callCtx()
	defer cancel()
	_, err := tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: es})
	checkStatus("UnaryCall", err, codes.Unknown, msg)

	stream, err := tc.FullDuplexCall(ctx)
	if err != nil {
		failf("FullDuplexCall: %v", err)
	}
	if err := stream.Send(&pb.StreamingOutputCallRequest{ResponseStatus: es}); err != nil {
		failf("Send: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		failf("CloseSend: %v", err)
	}
	_, err = stream.Recv()
	checkStatus("FullDuplexCall", err, codes.Unknown, msg)
}

func specialStatusMessage(tc pb.TestServiceClient) {
	const msg = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	ctx, cancel := callCtx()
	defer cancel()
	_, err := tc.UnaryCall(ctx, &pb.SimpleRequest{ResponseStatus: &pb.EchoStatus{Code: 2, Message: msg}})
	checkStatus("UnaryCall", err, codes.Unknown, msg)
}

func unimplementedMethod(tc pb.TestServiceClient) {
	ctx, cancel := callCtx()
	defer cancel()
	_, err := tc.UnimplementedCall(ctx, &pb.Empty{})
	wantCode("TestService/UnimplementedCall", err, codes.Unimplemented)
}

func unimplementedService(conn *grpc.ClientConn) {
	ctx, cancel := callCtx()
	defer cancel()
	_, err := pb.NewUnimplementedServiceClient(conn).UnimplementedCall(ctx, &pb.Empty{})
	wantCode("UnimplementedService/UnimplementedCall", err, codes.Unimplemented)
}

func veryLargeRequest(tc pb.TestServiceClient) {
	largeUnaryWith(tc, 10<<20, 10)
}

// soak runs large_unary-style RPCs, on one channel or on a new channel each
// iteration, and fails when more than --soak_max_failures iterations fail or
// exceed the per-iteration latency bound.
func soak(shared *grpc.ClientConn, newChannel bool) {
	deadline := time.Now().Add(time.Duration(*soakOverallTimeout) * time.Second)
	maxLatency := time.Duration(*soakMaxLatencyMs) * time.Millisecond
	failures, done := 0, 0
	var lastErr string
	for i := 0; i < *soakIterations; i++ {
		if time.Now().After(deadline) {
			failf("soak: overall timeout after %d of %d iterations", done, *soakIterations)
		}
		start := time.Now()
		conn := shared
		if newChannel {
			conn = dial()
		}
		ctx, cancel := callCtx()
		r, err := pb.NewTestServiceClient(conn).UnaryCall(ctx, &pb.SimpleRequest{
			ResponseSize: int32(*soakResponseSize), Payload: zeros(*soakRequestSize),
		})
		cancel()
		if newChannel {
			conn.Close()
		}
		latency := time.Since(start)
		switch {
		case err != nil:
			failures++
			lastErr = fmt.Sprintf("iteration %d: %v", i, err)
		case len(r.GetPayload().GetBody()) != *soakResponseSize:
			failures++
			lastErr = fmt.Sprintf("iteration %d: response body %d bytes", i, len(r.GetPayload().GetBody()))
		case latency > maxLatency:
			failures++
			lastErr = fmt.Sprintf("iteration %d: latency %v > %v", i, latency, maxLatency)
		}
		done++
		if wait := time.Duration(*soakMinTimeBetween)*time.Millisecond - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
	}
	if failures > *soakMaxFailures {
		failf("soak: %d of %d iterations failed (max %d); last: %s", failures, done, *soakMaxFailures, lastErr)
	}
}

func run(name string) {
	var conn *grpc.ClientConn
	var tc pb.TestServiceClient
	cases := map[string]func(){
		"empty_unary":                 func() { emptyUnary(tc) },
		"large_unary":                 func() { largeUnary(tc) },
		"client_compressed_unary":     func() { clientCompressedUnary(tc) },
		"server_compressed_unary":     func() { serverCompressedUnary(tc) },
		"client_streaming":            func() { clientStreaming(tc) },
		"client_compressed_streaming": func() { clientCompressedStreaming(tc) },
		"server_streaming":            func() { serverStreaming(tc) },
		"server_compressed_streaming": func() { serverCompressedStreaming(tc) },
		"ping_pong":                   func() { pingPong(tc) },
		"empty_stream":                func() { emptyStream(tc) },
		"cancel_after_begin":          func() { cancelAfterBegin(tc) },
		"cancel_after_first_response": func() { cancelAfterFirstResponse(tc) },
		"timeout_on_sleeping_server":  func() { timeoutOnSleepingServer(tc) },
		"custom_metadata":             func() { customMetadata(tc) },
		"status_code_and_message":     func() { statusCodeAndMessage(tc) },
		"special_status_message":      func() { specialStatusMessage(tc) },
		"unimplemented_method":        func() { unimplementedMethod(tc) },
		"unimplemented_service":       func() { unimplementedService(conn) },
		"rpc_soak":                    func() { soak(conn, false) },
		"channel_soak":                func() { soak(nil, true) },
		"very_large_request":          func() { veryLargeRequest(tc) },
	}
	f, ok := cases[name]
	if !ok {
		notApplicablef("test case %q is not implemented by the grpc-go peer client", name)
	}
	conn = dial()
	defer conn.Close()
	tc = pb.NewTestServiceClient(conn)
	f()
}

func main() {
	flag.Parse()
	code := 0
	func() {
		defer func() {
			switch r := recover().(type) {
			case nil:
				fmt.Printf("%s: passed\n", *testCase)
			case failure:
				fmt.Fprintf(os.Stderr, "%s: FAILED: %s\n", *testCase, r.msg)
				code = 1
			case notApplicable:
				fmt.Printf("n/a: %s\n", r.reason)
				code = 3
			default:
				panic(r)
			}
		}()
		run(*testCase)
	}()
	os.Exit(code)
}
