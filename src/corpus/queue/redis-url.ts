/**
 * `redis://[USER:PASSWORD@]HOST[:PORT]/NAME[?db=N]`: where the queue lives and what it is called.
 * The path is the queue's name (not a Redis database number, as in plain Redis URLs), because one
 * Redis serves many corpora; a database other than 0 is `?db=N`.
 */
export interface QueueAddress {
  /** The queue's name: BullMQ keeps it under `bull:NAME:*`. */
  name: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** The address without password, for messages and `queue status`. */
  display: string;
}

/** A queue name BullMQ accepts as part of its keys (no `:`), short enough to read. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function parseQueueUrl(text: string): QueueAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${text}: not a queue URL; expected redis://HOST:PORT/NAME`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`${text}: the queue URL must start with redis:// (or rediss:// for TLS), got ${url.protocol}//`);
  }
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (name === '') throw new Error(`${text}: the queue URL names no queue; expected redis://HOST:PORT/NAME`);
  if (!NAME.test(name)) {
    throw new Error(`${text}: queue name "${name}" must be letters, digits, '.', '_' or '-' (at most 128, no '/' or ':')`);
  }
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.searchParams.get('db') ?? '0';
  const db = Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new Error(`${text}: ?db= must be a database number, got "${dbText}"`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const display = `${url.protocol}//${url.host}/${name}${db === 0 ? '' : `?db=${db}`}`;
  return { name, host, port, username, password, db, tls: url.protocol === 'rediss:', display };
}

export interface ConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: Record<string, never>;
  maxRetriesPerRequest: number | null;
  retryStrategy?: (times: number) => number | null;
  connectTimeout?: number;
}

/**
 * The ioredis options BullMQ's Queue and Worker take. A worker waits for Redis however long it is away
 * (`maxRetriesPerRequest: null`, as BullMQ requires of workers); a one-shot command (`tag --queue`,
 * `queue status`) is `failFast`: one try, so an unreachable Redis is an error rather than a hang.
 */
export function connectionOptions(address: QueueAddress, { failFast = false } = {}): ConnectionOptions {
  const base = {
    host: address.host,
    port: address.port,
    ...(address.username === undefined ? {} : { username: address.username }),
    ...(address.password === undefined ? {} : { password: address.password }),
    db: address.db,
    ...(address.tls ? { tls: {} } : {}),
  };
  if (!failFast) return { ...base, maxRetriesPerRequest: null };
  return { ...base, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5000 };
}
