/**
 * nock 15 runs on @mswjs/interceptors, which calls `Promise.withResolvers` (Node ≥ 22) when
 * a socket connects. The project supports Node 20, so tests that use nock load this
 * polyfill first. Test-only: production code never depends on it.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (v: T | PromiseLike<T>) => void; reject: (e?: unknown) => void };

const P = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = <T>() => {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (e?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
export {};
