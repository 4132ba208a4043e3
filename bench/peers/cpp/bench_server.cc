// gRPC C++ peer for rill's benchmark: grpc.testing.BenchmarkService on the completion-queue
// async API (the API of gRPC's own benchmark server, test/cpp/qps/server_async.cc).
//
//   bench_server --listen 127.0.0.1:50053 --workers 1
//
// One completion queue per worker thread; each call is requested on one queue, so its state
// is only touched by that queue's thread (no locks). Replies carry `response_size` zero bytes
// (no payload for 0), as gRPC's benchmark servers do.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "grpc/testing/benchmark_service.grpc.pb.h"

using grpc::ServerAsyncReader;
using grpc::ServerAsyncReaderWriter;
using grpc::ServerAsyncResponseWriter;
using grpc::ServerAsyncWriter;
using grpc::ServerCompletionQueue;
using grpc::ServerContext;
using grpc::Status;
using grpc::testing::BenchmarkService;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;

namespace {

// A completion-queue tag: what to do when the operation it was passed to completes.
struct Op {
  std::function<void(bool)> fn;
};

void Fill(const SimpleRequest& req, SimpleResponse* resp) {
  resp->Clear();
  if (req.response_size() > 0) {
    resp->mutable_payload()->set_type(req.response_type());
    resp->mutable_payload()->mutable_body()->assign(req.response_size(), '\0');
  }
}

using Svc = BenchmarkService::AsyncService;

class Unary {
 public:
  Unary(Svc* svc, ServerCompletionQueue* cq) : svc_(svc), cq_(cq), writer_(&ctx_) {
    requested_.fn = [this](bool ok) {
      if (!ok) { delete this; return; }
      new Unary(svc_, cq_);
      Fill(req_, &resp_);
      writer_.Finish(resp_, Status::OK, &finished_);
    };
    finished_.fn = [this](bool) { delete this; };
    svc_->RequestUnaryCall(&ctx_, &req_, &writer_, cq_, cq_, &requested_);
  }

 private:
  Svc* svc_;
  ServerCompletionQueue* cq_;
  ServerContext ctx_;
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncResponseWriter<SimpleResponse> writer_;
  Op requested_, finished_;
};

// Ping-pong: one reply per request until the client half-closes.
class PingPong {
 public:
  PingPong(Svc* svc, ServerCompletionQueue* cq) : svc_(svc), cq_(cq), stream_(&ctx_) {
    requested_.fn = [this](bool ok) {
      if (!ok) { delete this; return; }
      new PingPong(svc_, cq_);
      stream_.Read(&req_, &read_);
    };
    read_.fn = [this](bool ok) {
      if (!ok) { stream_.Finish(Status::OK, &finished_); return; }
      Fill(req_, &resp_);
      stream_.Write(resp_, &wrote_);
    };
    wrote_.fn = [this](bool ok) {
      if (!ok) { stream_.Finish(Status::OK, &finished_); return; }
      stream_.Read(&req_, &read_);
    };
    finished_.fn = [this](bool) { delete this; };
    svc_->RequestStreamingCall(&ctx_, &stream_, cq_, cq_, &requested_);
  }

 private:
  Svc* svc_;
  ServerCompletionQueue* cq_;
  ServerContext ctx_;
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncReaderWriter<SimpleResponse, SimpleRequest> stream_;
  Op requested_, read_, wrote_, finished_;
};

// Reads until the client half-closes, then answers for the last request.
class FromClient {
 public:
  FromClient(Svc* svc, ServerCompletionQueue* cq) : svc_(svc), cq_(cq), reader_(&ctx_) {
    requested_.fn = [this](bool ok) {
      if (!ok) { delete this; return; }
      new FromClient(svc_, cq_);
      reader_.Read(&req_, &read_);
    };
    read_.fn = [this](bool ok) {
      if (ok) { last_ = req_; reader_.Read(&req_, &read_); return; }
      Fill(last_, &resp_);
      reader_.Finish(resp_, Status::OK, &finished_);
    };
    finished_.fn = [this](bool) { delete this; };
    svc_->RequestStreamingFromClient(&ctx_, &reader_, cq_, cq_, &requested_);
  }

 private:
  Svc* svc_;
  ServerCompletionQueue* cq_;
  ServerContext ctx_;
  SimpleRequest req_, last_;
  SimpleResponse resp_;
  ServerAsyncReader<SimpleResponse, SimpleRequest> reader_;
  Op requested_, read_, finished_;
};

// Answers the one request again and again until the client cancels.
class FromServer {
 public:
  FromServer(Svc* svc, ServerCompletionQueue* cq) : svc_(svc), cq_(cq), writer_(&ctx_) {
    requested_.fn = [this](bool ok) {
      if (!ok) { delete this; return; }
      new FromServer(svc_, cq_);
      Fill(req_, &resp_);
      writer_.Write(resp_, &wrote_);
    };
    wrote_.fn = [this](bool ok) {
      if (ok) { writer_.Write(resp_, &wrote_); return; }
      writer_.Finish(Status::OK, &finished_);
    };
    finished_.fn = [this](bool) { delete this; };
    svc_->RequestStreamingFromServer(&ctx_, &req_, &writer_, cq_, cq_, &requested_);
  }

 private:
  Svc* svc_;
  ServerCompletionQueue* cq_;
  ServerContext ctx_;
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncWriter<SimpleResponse> writer_;
  Op requested_, wrote_, finished_;
};

// Sends without waiting for the client while draining what it sends; ends when both sides
// have failed (client cancel or half-close + write failure).
class BothWays {
 public:
  BothWays(Svc* svc, ServerCompletionQueue* cq) : svc_(svc), cq_(cq), stream_(&ctx_) {
    requested_.fn = [this](bool ok) {
      if (!ok) { delete this; return; }
      new BothWays(svc_, cq_);
      stream_.Read(&req_, &first_);
    };
    first_.fn = [this](bool ok) {
      if (!ok) { stream_.Finish(Status::OK, &finished_); return; }
      Fill(req_, &resp_);
      pending_ = 2;
      stream_.Read(&req_, &read_);
      stream_.Write(resp_, &wrote_);
    };
    read_.fn = [this](bool ok) {
      if (ok) { stream_.Read(&req_, &read_); return; }
      Done();
    };
    wrote_.fn = [this](bool ok) {
      if (ok) { stream_.Write(resp_, &wrote_); return; }
      Done();
    };
    finished_.fn = [this](bool) { delete this; };
    svc_->RequestStreamingBothWays(&ctx_, &stream_, cq_, cq_, &requested_);
  }

 private:
  void Done() {
    if (--pending_ == 0) stream_.Finish(Status::OK, &finished_);
  }
  Svc* svc_;
  ServerCompletionQueue* cq_;
  ServerContext ctx_;
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncReaderWriter<SimpleResponse, SimpleRequest> stream_;
  Op requested_, first_, read_, wrote_, finished_;
  int pending_ = 0;
};

void Usage() {
  std::fprintf(stderr, "usage: bench_server [--listen ADDR] [--workers N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:50053";
  int workers = 1;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--listen") && i + 1 < argc) {
      listen = argv[++i];
    } else if (!std::strcmp(argv[i], "--workers") && i + 1 < argc) {
      workers = std::atoi(argv[++i]);
      if (workers < 1) Usage();
    } else {
      Usage();
    }
  }

  Svc service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<ServerCompletionQueue>> cqs;
  for (int i = 0; i < workers; i++) cqs.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "bench_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::fprintf(stderr, "gRPC C++ %s bench_server on %s (%d worker(s))\n",
               grpc::Version().c_str(), listen.c_str(), workers);

  // Calls requested ahead on each queue: enough for 1000 concurrent unary streams to find a
  // slot without waiting in gRPC's pending list.
  const int kUnarySlots = 1024, kStreamSlots = 16;
  for (auto& cq : cqs) {
    for (int i = 0; i < kUnarySlots; i++) new Unary(&service, cq.get());
    for (int i = 0; i < kStreamSlots; i++) {
      new PingPong(&service, cq.get());
      new FromClient(&service, cq.get());
      new FromServer(&service, cq.get());
      new BothWays(&service, cq.get());
    }
  }

  std::vector<std::thread> threads;
  for (auto& cq : cqs) {
    ServerCompletionQueue* q = cq.get();
    threads.emplace_back([q] {
      void* tag;
      bool ok;
      while (q->Next(&tag, &ok)) static_cast<Op*>(tag)->fn(ok);
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
