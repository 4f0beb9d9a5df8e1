// A tiny gRPC service for interop tests (raw Buffer messages, no .proto): each server answers with its name.
import * as grpc from '@grpc/grpc-js';

const raw = (b: Buffer): Buffer => b;
export const greeterDefinition: grpc.ServiceDefinition = {
  Hello: {
    path: '/tessera.test.Greeter/Hello',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
} as unknown as grpc.ServiceDefinition;

export type GreeterClient = grpc.Client & {
  Hello(req: Buffer, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
};

export async function startGreeter(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(greeterDefinition, {
    Hello: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port };
}

export function hello(client: GreeterClient): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Hello(Buffer.from('hi'), { deadline: Date.now() + 3000 }, (e, res) => (e ? reject(e) : resolve(res!.toString())));
  });
}

/** Registers grpc-js-xds (imported lazily: it costs ~400 ms) with a bootstrap naming `xdsPort`, and makes a client. */
export async function xdsGreeterClient(xdsPort: number, nodeId: string, target: string): Promise<GreeterClient> {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, locality: {} },
  });
  const xdsClient = await import('@grpc/grpc-js-xds');
  xdsClient.register();
  const Ctor = grpc.makeGenericClientConstructor(greeterDefinition, 'Greeter');
  return new Ctor(target, grpc.credentials.createInsecure()) as unknown as GreeterClient;
}
