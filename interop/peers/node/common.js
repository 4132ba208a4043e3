'use strict';
// Shared helpers of the grpc-js interop peer (server.js, client.js).
// @grpc/proto-loader loads Debian's official protos at run time.

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = process.env.RILL_INTEROP_PROTO_ROOT || '/usr/share/grpc-proto';
// Test certificates shipped by Debian's grpc-go package (used only with --use_tls).
const TESTDATA = '/usr/share/gocode/src/google.golang.org/grpc/testdata';

function loadTesting() {
  const file = `${PROTO_ROOT}/grpc/testing/test.proto`;
  if (!fs.existsSync(file)) {
    throw new Error(`${file} missing (Debian package grpc-proto)`);
  }
  const definition = protoLoader.loadSync('grpc/testing/test.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true, // unset message fields (BoolValue, EchoStatus) read as null
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).grpc.testing;
}

// Parses --name=value and --name value flags into an object; booleans
// accept true/false/1/0.
function parseFlags(argv, spec) {
  const out = {};
  for (const [name, def] of Object.entries(spec)) out[name] = def;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (!(name in spec)) throw new Error(`unknown flag --${name}`);
    if (value === undefined) {
      if (typeof spec[name] === 'boolean' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) {
        value = 'true';
      } else {
        value = argv[++i];
      }
    }
    if (typeof spec[name] === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(value)) throw new Error(`--${name}: not a boolean: ${value}`);
      out[name] = /^(true|1)$/i.test(value);
    } else if (typeof spec[name] === 'number') {
      out[name] = Number(value);
      if (!Number.isFinite(out[name])) throw new Error(`--${name}: not a number: ${value}`);
    } else {
      out[name] = value;
    }
  }
  return out;
}

module.exports = {
  grpc,
  loadTesting,
  parseFlags,
  TESTDATA,
  ECHO_INITIAL_KEY: 'x-grpc-test-echo-initial',
  ECHO_TRAILING_KEY: 'x-grpc-test-echo-trailing-bin',
  MAX_MESSAGE_SIZE: 32 << 20,
};
