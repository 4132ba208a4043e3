'use strict';
// grpc-js interop test client for rill's interop matrix: the non-cloud test
// cases of grpc/grpc doc/interop-test-descriptions.md. Exit status: 0 pass,
// 1 fail (reason on stderr), 3 case not implemented ("n/a: reason").
//
// grpc-js does not expose the compressed flag of received messages, so
// server_compressed_* check everything but that flag (the spec allows this:
// "if supported by the implementation").

const fs = require('fs');
const {
  grpc, loadTesting, parseFlags, TESTDATA, ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, MAX_MESSAGE_SIZE,
} = require('./common');

const testing = loadTesting();
const { status } = grpc;
const statusName = (code) => Object.keys(status).find((k) => status[k] === code) || String(code);

const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);
const RPC_TIMEOUT_MS = 30000;
const GZIP = 2; // grpc-js CompressionAlgorithms.gzip
const NO_COMPRESS = 2; // grpc-js WriteFlags.NoCompress

class Failure extends Error {}
class NotApplicable extends Error {}

const deadline = (ms = RPC_TIMEOUT_MS) => ({ deadline: Date.now() + ms });
const zeros = (n) => ({ body: Buffer.alloc(n) });

function checkBody(what, payload, size) {
  const body = payload ? payload.body : Buffer.alloc(0);
  if (body.length !== size) throw new Failure(`${what}: payload body is ${body.length} bytes, want ${size}`);
  if (body.some((b) => b !== 0)) throw new Failure(`${what}: payload body is not all zeros`);
}

function wantCode(what, err, code) {
  if (!err) throw new Failure(`${what}: call succeeded, want ${statusName(code)}`);
  if (err.code !== code) {
    throw new Failure(`${what}: got ${statusName(err.code)} (${JSON.stringify(err.details)}), want ${statusName(code)}`);
  }
}

// Runs a unary call; resolves to {err, response, header, trailer}.
function unary(client, method, request, metadata = new grpc.Metadata(), options = deadline()) {
  return new Promise((resolve) => {
    let header = null;
    let result = null;
    let trailer = null;
    const done = () => { if (result && trailer) resolve({ ...result, header, trailer }); };
    const call = client[method](request, metadata, options, (err, response) => {
      result = { err, response };
      done();
    });
    call.on('metadata', (md) => { header = md; });
    call.on('status', (st) => { trailer = st.metadata; done(); });
  });
}

async function ok(client, method, request, metadata, options) {
  const r = await unary(client, method, request, metadata, options);
  if (r.err) throw new Failure(`${method}: ${statusName(r.err.code)} ${JSON.stringify(r.err.details)}`);
  return r;
}

// Collects a server-streaming or bidi call: {responses, err, header, trailer}.
function collect(call) {
  return new Promise((resolve) => {
    const responses = [];
    let header = null;
    let err = null;
    call.on('metadata', (md) => { header = md; });
    call.on('data', (r) => responses.push(r));
    call.on('error', (e) => { err = e; });
    call.on('status', (st) => {
      // 'status' follows 'end' or 'error'; let a pending 'error' land first.
      setImmediate(() => resolve({ responses, err, header, trailer: st.metadata }));
    });
  });
}

function nextMessage(call) {
  return new Promise((resolve, reject) => {
    const onData = (r) => { cleanup(); resolve(r); };
    const onError = (e) => { cleanup(); reject(e); };
    const onEnd = () => { cleanup(); reject(new Failure('stream ended early')); };
    const cleanup = () => {
      call.off('data', onData); call.off('error', onError); call.off('end', onEnd);
    };
    call.on('data', onData); call.on('error', onError); call.on('end', onEnd);
  });
}

function checkResponses(result, sizes) {
  if (result.err) throw new Failure(`stream failed: ${statusName(result.err.code)} ${JSON.stringify(result.err.details)}`);
  if (result.responses.length !== sizes.length) {
    throw new Failure(`got ${result.responses.length} responses, want ${sizes.length}`);
  }
  result.responses.forEach((r, i) => checkBody(`response ${i}`, r.payload, sizes[i]));
}

class Cases {
  constructor(flags) {
    this.flags = flags;
    this.client = this.newClient();
  }

  newClient(extra = {}) {
    const f = this.flags;
    const [creds, options] = this.channelArgs(extra);
    return new testing.TestService(`${f.server_host}:${f.server_port}`, creds, options);
  }

  // Credentials and channel options from the flags (TLS, authority override), for any stub.
  channelArgs(extra = {}) {
    const f = this.flags;
    const options = {
      'grpc.max_receive_message_length': MAX_MESSAGE_SIZE,
      'grpc.max_send_message_length': MAX_MESSAGE_SIZE,
      ...extra,
    };
    let creds;
    if (f.use_tls) {
      const roots = f.use_test_ca ? fs.readFileSync(`${TESTDATA}/ca.pem`) : null;
      creds = grpc.credentials.createSsl(roots);
      if (f.server_host_override) options['grpc.ssl_target_name_override'] = f.server_host_override;
    } else {
      creds = grpc.credentials.createInsecure();
    }
    if (f.server_host_override) options['grpc.default_authority'] = f.server_host_override;
    return [creds, options];
  }

  close() { this.client.close(); }

  async empty_unary() {
    const r = await ok(this.client, 'EmptyCall', {});
    if (!r.response) throw new Failure('EmptyCall returned no message');
  }

  async largeUnary(client, requestSize, responseSize) {
    const r = await ok(client, 'UnaryCall', { response_size: responseSize, payload: zeros(requestSize) });
    checkBody('UnaryCall response', r.response.payload, responseSize);
  }

  large_unary() { return this.largeUnary(this.client, 271828, 314159); }

  very_large_request() { return this.largeUnary(this.client, 10 << 20, 10); }

  async client_compressed_unary() {
    const req = (expect) => ({ expect_compressed: { value: expect }, response_size: 314159, payload: zeros(271828) });
    const probe = await unary(this.client, 'UnaryCall', req(true));
    wantCode('probe (uncompressed, expect_compressed=true)', probe.err, status.INVALID_ARGUMENT);
    const gzipClient = this.newClient({ 'grpc.default_compression_algorithm': GZIP });
    try {
      const r = await ok(gzipClient, 'UnaryCall', req(true));
      checkBody('compressed UnaryCall response', r.response.payload, 314159);
    } finally {
      gzipClient.close();
    }
    const r = await ok(this.client, 'UnaryCall', req(false));
    checkBody('uncompressed UnaryCall response', r.response.payload, 314159);
  }

  async server_compressed_unary() {
    for (const compressed of [true, false]) {
      const r = await ok(this.client, 'UnaryCall', {
        response_compressed: { value: compressed }, response_size: 314159, payload: zeros(271828),
      });
      checkBody(`UnaryCall response (response_compressed=${compressed})`, r.response.payload, 314159);
    }
    console.log('note: grpc-js does not expose the compressed flag; it was not checked');
  }

  streamingInput(client, requests) {
    return new Promise((resolve) => {
      const call = client.StreamingInputCall(new grpc.Metadata(), deadline(), (err, response) => resolve({ err, response }));
      for (const [req, flags] of requests) call.write(req, flags);
      call.end();
    });
  }

  async client_streaming() {
    const reqs = [27182, 8, 1828, 45904].map((n) => [{ payload: zeros(n) }, undefined]);
    const { err, response } = await this.streamingInput(this.client, reqs);
    if (err) throw new Failure(`StreamingInputCall: ${statusName(err.code)} ${JSON.stringify(err.details)}`);
    if (response.aggregated_payload_size !== 74922) {
      throw new Failure(`aggregated_payload_size ${response.aggregated_payload_size}, want 74922`);
    }
  }

  async client_compressed_streaming() {
    const probe = await this.streamingInput(this.client,
      [[{ expect_compressed: { value: true }, payload: zeros(27182) }, undefined]]);
    wantCode('probe (uncompressed, expect_compressed=true)', probe.err, status.INVALID_ARGUMENT);
    const gzipClient = this.newClient({ 'grpc.default_compression_algorithm': GZIP });
    try {
      const { err, response } = await this.streamingInput(gzipClient, [
        [{ expect_compressed: { value: true }, payload: zeros(27182) }, undefined],
        [{ expect_compressed: { value: false }, payload: zeros(45904) }, NO_COMPRESS],
      ]);
      if (err) throw new Failure(`StreamingInputCall: ${statusName(err.code)} ${JSON.stringify(err.details)}`);
      if (response.aggregated_payload_size !== 73086) {
        throw new Failure(`aggregated_payload_size ${response.aggregated_payload_size}, want 73086`);
      }
    } finally {
      gzipClient.close();
    }
  }

  async server_streaming() {
    const sizes = [31415, 9, 2653, 58979];
    const call = this.client.StreamingOutputCall(
      { response_parameters: sizes.map((size) => ({ size })) }, new grpc.Metadata(), deadline());
    checkResponses(await collect(call), sizes);
  }

  async server_compressed_streaming() {
    const call = this.client.StreamingOutputCall({
      response_parameters: [
        { compressed: { value: true }, size: 31415 },
        { compressed: { value: false }, size: 92653 },
      ],
    }, new grpc.Metadata(), deadline());
    checkResponses(await collect(call), [31415, 92653]);
    console.log('note: grpc-js does not expose the compressed flag; it was not checked');
  }

  async ping_pong() {
    const call = this.client.FullDuplexCall(new grpc.Metadata(), deadline());
    const result = collect(call);
    const steps = [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]];
    for (const [i, [responseSize, requestSize]] of steps.entries()) {
      const next = nextMessage(call);
      call.write({ response_parameters: [{ size: responseSize }], payload: zeros(requestSize) });
      let r;
      try {
        r = await next;
      } catch (e) {
        throw new Failure(`response ${i}: ${e.code !== undefined ? statusName(e.code) : ''} ${e.details || e.message}`);
      }
      checkBody(`response ${i}`, r.payload, responseSize);
    }
    call.end();
    const { err, responses } = await result;
    if (err) throw new Failure(`FullDuplexCall: ${statusName(err.code)} ${JSON.stringify(err.details)}`);
    if (responses.length !== 4) throw new Failure(`${responses.length} responses in total, want 4`);
  }

  async empty_stream() {
    const call = this.client.FullDuplexCall(new grpc.Metadata(), deadline());
    const result = collect(call);
    call.end();
    checkResponses(await result, []);
  }

  async cancel_after_begin() {
    const err = await new Promise((resolve) => {
      const call = this.client.StreamingInputCall(new grpc.Metadata(), deadline(), (e) => resolve(e));
      call.cancel();
    });
    wantCode('cancelled StreamingInputCall', err, status.CANCELLED);
  }

  async cancel_after_first_response() {
    const call = this.client.FullDuplexCall(new grpc.Metadata(), deadline());
    const result = collect(call);
    const first = nextMessage(call);
    call.write({ response_parameters: [{ size: 31415 }], payload: zeros(27182) });
    await first;
    call.cancel();
    wantCode('cancelled FullDuplexCall', (await result).err, status.CANCELLED);
  }

  async timeout_on_sleeping_server() {
    const call = this.client.FullDuplexCall(new grpc.Metadata(), deadline(1));
    const result = collect(call);
    call.write({ payload: zeros(27182) });
    wantCode('FullDuplexCall with 1ms deadline', (await result).err, status.DEADLINE_EXCEEDED);
  }

  static checkEcho(what, header, trailer) {
    const initial = header ? header.get(ECHO_INITIAL_KEY) : [];
    if (initial.length !== 1 || initial[0] !== ECHO_INITIAL_VALUE) {
      throw new Failure(`${what}: initial metadata ${ECHO_INITIAL_KEY} = ${JSON.stringify(initial)}`);
    }
    const trailing = trailer ? trailer.get(ECHO_TRAILING_KEY) : [];
    if (trailing.length !== 1 || !Buffer.isBuffer(trailing[0]) || !trailing[0].equals(ECHO_TRAILING_VALUE)) {
      throw new Failure(`${what}: trailing metadata ${ECHO_TRAILING_KEY} = ${JSON.stringify(trailing)}`);
    }
  }

  async custom_metadata() {
    const md = () => {
      const m = new grpc.Metadata();
      m.set(ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE);
      m.set(ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE);
      return m;
    };
    const r = await ok(this.client, 'UnaryCall', { response_size: 314159, payload: zeros(271828) }, md());
    checkBody('UnaryCall response', r.response.payload, 314159);
    Cases.checkEcho('UnaryCall', r.header, r.trailer);

    const call = this.client.FullDuplexCall(md(), deadline());
    const result = collect(call);
    call.write({ response_parameters: [{ size: 314159 }], payload: zeros(271828) });
    call.end();
    const s = await result;
    checkResponses(s, [314159]);
    Cases.checkEcho('FullDuplexCall', s.header, s.trailer);
  }

  static checkStatus(what, err, message) {
    wantCode(what, err, status.UNKNOWN);
    if (err.details !== message) {
      throw new Failure(`${what}: status message ${JSON.stringify(err.details)}, want ${JSON.stringify(message)}`);
    }
  }

  async status_code_and_message() {
    const message = 'test status message';
    const responseStatus = { code: 2, message };
    const r = await unary(this.client, 'UnaryCall', { response_status: responseStatus });
    Cases.checkStatus('UnaryCall', r.err, message);
    const call = this.client.FullDuplexCall(new grpc.Metadata(), deadline());
    const result = collect(call);
    call.write({ response_status: responseStatus });
    call.end();
    Cases.checkStatus('FullDuplexCall', (await result).err, message);
  }

  async special_status_message() {
    const message = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1F608}\t\n';
    const r = await unary(this.client, 'UnaryCall', { response_status: { code: 2, message } });
    Cases.checkStatus('UnaryCall', r.err, message);
  }

  async unimplemented_method() {
    const r = await unary(this.client, 'UnimplementedCall', {});
    wantCode('TestService/UnimplementedCall', r.err, status.UNIMPLEMENTED);
  }

  async unimplemented_service() {
    const f = this.flags;
    const client = new testing.UnimplementedService(`${f.server_host}:${f.server_port}`,
      ...this.channelArgs());
    try {
      const r = await unary(client, 'UnimplementedCall', {});
      wantCode('UnimplementedService/UnimplementedCall', r.err, status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  }

  async soak(newChannel) {
    const f = this.flags;
    const overall = Date.now() + f.soak_overall_timeout_seconds * 1000;
    let failures = 0;
    let last = '';
    for (let i = 0; i < f.soak_iterations; i++) {
      if (Date.now() > overall) throw new Failure(`soak: overall timeout after ${i} of ${f.soak_iterations} iterations`);
      const start = Date.now();
      const client = newChannel ? this.newClient() : this.client;
      const r = await unary(client, 'UnaryCall', {
        response_size: f.soak_response_size, payload: zeros(f.soak_request_size),
      });
      if (newChannel) client.close();
      const latency = Date.now() - start;
      if (r.err) {
        failures++; last = `iteration ${i}: ${statusName(r.err.code)} ${JSON.stringify(r.err.details)}`;
      } else if (r.response.payload.body.length !== f.soak_response_size) {
        failures++; last = `iteration ${i}: body ${r.response.payload.body.length} bytes`;
      } else if (latency > f.soak_per_iteration_max_acceptable_latency_ms) {
        failures++; last = `iteration ${i}: latency ${latency}ms`;
      }
      const wait = f.soak_min_time_ms_between_rpcs - (Date.now() - start);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (failures > f.soak_max_failures) {
      throw new Failure(`soak: ${failures} of ${f.soak_iterations} iterations failed (max ${f.soak_max_failures}); last: ${last}`);
    }
  }

  rpc_soak() { return this.soak(false); }

  channel_soak() { return this.soak(true); }
}

const CASES = [
  'empty_unary', 'large_unary', 'client_compressed_unary', 'server_compressed_unary',
  'client_streaming', 'client_compressed_streaming', 'server_streaming',
  'server_compressed_streaming', 'ping_pong', 'empty_stream', 'cancel_after_begin',
  'cancel_after_first_response', 'timeout_on_sleeping_server', 'custom_metadata',
  'status_code_and_message', 'special_status_message', 'unimplemented_method',
  'unimplemented_service', 'rpc_soak', 'channel_soak', 'very_large_request',
];

async function main() {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), {
      server_host: '127.0.0.1',
      server_host_override: '',
      server_port: 10000,
      test_case: 'large_unary',
      use_tls: false,
      use_test_ca: false,
      soak_iterations: 10,
      soak_max_failures: 0,
      soak_per_iteration_max_acceptable_latency_ms: 1000,
      soak_overall_timeout_seconds: 60,
      soak_min_time_ms_between_rpcs: 0,
      soak_request_size: 271828,
      soak_response_size: 314159,
      // Accepted for compatibility with the official runners; cloud cases are not implemented.
      default_service_account: '',
      oauth_scope: '',
      service_account_key_file: '',
      service_config_json: '',
    });
  } catch (e) {
    console.error(`node peer client: ${e.message}`);
    return 2;
  }
  const name = flags.test_case;
  if (!CASES.includes(name)) {
    console.log(`n/a: test case ${JSON.stringify(name)} is not implemented by the grpc-js peer client`);
    return 3;
  }
  const cases = new Cases(flags);
  try {
    await cases[name]();
    console.log(`${name}: passed`);
    return 0;
  } catch (e) {
    if (e instanceof NotApplicable) {
      console.log(`n/a: ${e.message}`);
      return 3;
    }
    console.error(`${name}: FAILED: ${e instanceof Failure ? e.message : (e && e.stack) || e}`);
    return 1;
  } finally {
    cases.close();
  }
}

main().then((code) => process.exit(code));
