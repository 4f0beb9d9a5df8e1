// The gRPC origin of the h2 macro benchmark: one grpc-js server process, h2c, with a unary echo
// method over raw bytes (no protobuf codec: the payload comes back as sent) and a counter of the
// calls it answered, so the harness can check that the calls h2load counts reached the origin.
// Usage: node grpc-origin.js <port>   (prints one JSON line {"ready":true,"port":N} when serving)
import * as grpc from '@grpc/grpc-js';
import { COUNT_PATH, ECHO_PATH } from './h2-targets.js';

const raw = (b: Buffer): Buffer => b;

/** Unary methods with identity (de)serializers. */
const service: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
  Count: {
    path: COUNT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

let calls = 0;

function echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
  calls++;
  cb(null, call.request);
}

function count(_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(calls));
  cb(null, b);
}

function main(): void {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: grpc-origin.js <port>\n');
    process.exit(2);
  }
  const server = new grpc.Server({ 'grpc.max_concurrent_streams': 1000 });
  server.addService(service, { Echo: echo, Count: count });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      process.stderr.write(`grpc-origin: bind 127.0.0.1:${port}: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ ready: true, port: bound })}\n`);
  });
  process.on('SIGTERM', () => server.forceShutdown());
  process.on('SIGINT', () => server.forceShutdown());
}

main();
