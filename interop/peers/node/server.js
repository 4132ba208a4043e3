'use strict';
// grpc-js interop test server for rill's interop matrix: grpc.testing.TestService
// per grpc/grpc doc/interop-test-descriptions.md ("Server" section).
//
// grpc-js cannot compress responses and does not tell a handler whether a
// request message was compressed, so CompressedResponse and CompressedRequest
// are answered with UNIMPLEMENTED; interop/run marks the compression cases
// against this server as n/a.

const fs = require('fs');
const {
  grpc, loadTesting, parseFlags, TESTDATA, ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, MAX_MESSAGE_SIZE,
} = require('./common');

const testing = loadTesting();
const { status } = grpc;

class RpcError extends Error {
  constructor(code, details) {
    super(details);
    this.code = code;
    this.details = details;
  }
}

// Echo Metadata: sends the initial echo now, returns the trailers to send.
function echoMetadata(call) {
  const initial = call.metadata.get(ECHO_INITIAL_KEY);
  if (initial.length > 0) {
    const md = new grpc.Metadata();
    md.set(ECHO_INITIAL_KEY, initial[0]);
    call.sendMetadata(md);
  }
  const trailer = new grpc.Metadata();
  const trailing = call.metadata.get(ECHO_TRAILING_KEY);
  if (trailing.length > 0) trailer.set(ECHO_TRAILING_KEY, trailing[0]);
  return trailer;
}

function payload(type, size) {
  if (type !== 'COMPRESSABLE') throw new RpcError(status.INVALID_ARGUMENT, `unsupported payload type ${type}`);
  if (size < 0) throw new RpcError(status.INVALID_ARGUMENT, `negative response size ${size}`);
  return { type, body: Buffer.alloc(size) };
}

function checkStatus(req) {
  const s = req.response_status;
  if (s && s.code !== 0) throw new RpcError(s.code, s.message);
}

function checkCompression(req) {
  if (req.expect_compressed && req.expect_compressed.value) {
    throw new RpcError(status.UNIMPLEMENTED, 'grpc-js cannot observe whether a request message was compressed');
  }
}

function checkResponseCompression(flag) {
  if (flag && flag.value) {
    throw new RpcError(status.UNIMPLEMENTED, 'grpc-js servers cannot compress responses');
  }
}

function toStatus(err, trailer) {
  if (err instanceof RpcError) return { code: err.code, details: err.details, metadata: trailer };
  return { code: status.INTERNAL, details: String(err && err.stack || err), metadata: trailer };
}

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, us / 1000));

// Writes one response per ResponseParameters, honouring interval_us.
async function writeResponses(call, req) {
  for (const p of req.response_parameters) {
    checkResponseCompression(p.compressed);
    if (p.interval_us > 0) await sleep(p.interval_us);
    if (call.cancelled) return;
    call.write({ payload: payload(req.response_type, p.size) });
  }
}

function unary(handler) {
  return (call, callback) => {
    const trailer = echoMetadata(call);
    let response;
    try {
      response = handler(call.request);
    } catch (err) {
      callback(toStatus(err, trailer));
      return;
    }
    callback(null, response, trailer);
  };
}

const service = {
  EmptyCall: unary(() => ({})),

  UnaryCall: unary((req) => {
    checkCompression(req);
    checkStatus(req);
    checkResponseCompression(req.response_compressed);
    // fill_username / fill_oauth_scope: no authentication here, left empty.
    return { payload: payload(req.response_type, req.response_size) };
  }),

  CacheableUnaryCall: unary(() => ({ payload: { body: Buffer.from(String(process.hrtime.bigint())) } })),

  StreamingOutputCall(call) {
    const trailer = echoMetadata(call);
    (async () => {
      checkStatus(call.request);
      await writeResponses(call, call.request);
    })().then(() => call.end(trailer), (err) => call.emit('error', toStatus(err, trailer)));
  },

  StreamingInputCall(call, callback) {
    const trailer = echoMetadata(call);
    let total = 0;
    let failed = false;
    call.on('data', (req) => {
      if (failed) return;
      try {
        checkCompression(req);
        total += req.payload ? req.payload.body.length : 0;
      } catch (err) {
        failed = true;
        callback(toStatus(err, trailer));
      }
    });
    call.on('end', () => {
      if (!failed) callback(null, { aggregated_payload_size: total }, trailer);
    });
    call.on('error', () => {});
  },

  FullDuplexCall(call) {
    const trailer = echoMetadata(call);
    let chain = Promise.resolve();
    let failed = false;
    const fail = (err) => {
      if (failed) return;
      failed = true;
      call.emit('error', toStatus(err, trailer));
    };
    call.on('data', (req) => {
      chain = chain.then(async () => {
        if (failed) return;
        checkStatus(req);
        await writeResponses(call, req);
      }).catch(fail);
    });
    call.on('end', () => {
      chain = chain.then(() => { if (!failed) call.end(trailer); }).catch(fail);
    });
    call.on('error', () => {});
  },

  HalfDuplexCall(call) {
    const trailer = echoMetadata(call);
    const requests = [];
    call.on('data', (req) => requests.push(req));
    call.on('end', () => {
      (async () => {
        for (const req of requests) {
          checkStatus(req);
          await writeResponses(call, req);
        }
      })().then(() => call.end(trailer), (err) => call.emit('error', toStatus(err, trailer)));
    });
    call.on('error', () => {});
  },
  // UnimplementedCall is deliberately absent: grpc-js answers UNIMPLEMENTED.
};

function main() {
  const flags = parseFlags(process.argv.slice(2), { port: 10000, host: '127.0.0.1', use_tls: false });
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_SIZE,
    'grpc.max_send_message_length': MAX_MESSAGE_SIZE,
  });
  server.addService(testing.TestService.service, service);
  const creds = flags.use_tls
    ? grpc.ServerCredentials.createSsl(null, [{
      private_key: fs.readFileSync(`${TESTDATA}/server1.key`),
      cert_chain: fs.readFileSync(`${TESTDATA}/server1.pem`),
    }])
    : grpc.ServerCredentials.createInsecure();
  const address = `${flags.host}:${flags.port}`;
  server.bindAsync(address, creds, (err) => {
    if (err) {
      console.error(`node peer: cannot bind ${address}: ${err.message}`);
      process.exit(1);
    }
    const version = require('@grpc/grpc-js/package.json').version;
    console.log(`grpc-js ${version} interop server listening on ${address}`);
  });
  const stop = () => server.forceShutdown();
  process.on('SIGTERM', () => { stop(); process.exit(0); });
  process.on('SIGINT', () => { stop(); process.exit(0); });
}

main();
