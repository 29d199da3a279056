import { PeerUnavailable } from "../errors.js";

/**
 * Settles like `work`, or fails with PeerUnavailable after `ms`, whichever is
 * first: the whole wait (connect and TLS handshake included) is bounded, so a
 * store that hangs with its sockets open costs one deadline, not the
 * transport's own timeouts. A result that arrives late goes to `late` to be freed.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, late: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new PeerUnavailable(`${what}: no answer within ${ms} ms`));
    }, ms);
    work.then(
      (value) => {
        if (settled) return late(value);
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
