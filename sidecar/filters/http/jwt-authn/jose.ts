// jose, loaded on first use: a sidecar whose listeners have no jwt_authn filter never pays for it (~10 MiB, ~30 ms
// at start-up). Every caller is already asynchronous (key import, signature check); cache hits never get here.
type Jose = typeof import('jose');

let loading: Promise<Jose> | null = null;

export function jose(): Promise<Jose> {
  loading ??= import('jose');
  return loading;
}
