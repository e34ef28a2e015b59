/** The queue's pure parts: queue URLs, job ids and batches, the status text. (The workers themselves: queue-workers.test.ts.) */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQueueUrl, connectionOptions } from '../../src/corpus/queue/redis-url.js';
import { batchFiles, jobIdFor } from '../../src/corpus/queue/jobs.js';
import { formatStatus, type QueueStatus } from '../../src/corpus/queue/status.js';

describe('queue URLs', () => {
  it('redis://HOST:PORT/NAME: host, port, name; defaults port 6379 and db 0; user, password and ?db=', () => {
    const a = parseQueueUrl('redis://10.0.0.5:6380/audioset');
    assert.deepEqual({ ...a }, { name: 'audioset', host: '10.0.0.5', port: 6380, username: undefined, password: undefined, db: 0, tls: false, display: 'redis://10.0.0.5:6380/audioset' });
    const b = parseQueueUrl('rediss://tagger:s%40cret@redis.example:6379/clips-2026.v1?db=3');
    assert.equal(b.port, 6379);
    assert.equal(b.username, 'tagger');
    assert.equal(b.password, 's@cret');
    assert.equal(b.db, 3);
    assert.equal(b.tls, true);
    assert.ok(!b.display.includes('cret'), 'the password is not shown');
    assert.equal(parseQueueUrl('redis://localhost/q').port, 6379);
  });

  it('refuses what is not a queue URL, naming the problem', () => {
    assert.throws(() => parseQueueUrl('127.0.0.1:6379/q'), /not a queue URL; expected redis:\/\/HOST:PORT\/NAME/);
    assert.throws(() => parseQueueUrl('localhost:6379/q'), /must start with redis:\/\//);
    assert.throws(() => parseQueueUrl('http://h:1/q'), /must start with redis:\/\//);
    assert.throws(() => parseQueueUrl('redis://h:6379'), /names no queue/);
    assert.throws(() => parseQueueUrl('redis://h:6379/'), /names no queue/);
    assert.throws(() => parseQueueUrl('redis://h:6379/a:b'), /must be letters, digits/);
    assert.throws(() => parseQueueUrl('redis://h:6379/a/b'), /must be letters, digits/);
    assert.throws(() => parseQueueUrl('redis://h:6379/q?db=x'), /\?db= must be a database number/);
    assert.throws(() => parseQueueUrl('not a url'), /not a queue URL/);
  });

  it('workers wait for Redis (no retry limit, as BullMQ requires); one-shot commands fail fast', () => {
    const a = parseQueueUrl('redis://h:1/q');
    assert.equal(connectionOptions(a).maxRetriesPerRequest, null);
    const fast = connectionOptions(a, { failFast: true });
    assert.equal(fast.maxRetriesPerRequest, 1);
    assert.equal(fast.retryStrategy?.(1), null);
  });
});

describe('job ids and batches', () => {
  it('a job id depends on the set of keys, not their order; another set gets another id; BullMQ-safe', () => {
    const id = jobIdFor(['/a\u00001\u00002', '/b\u00003\u00004']);
    assert.equal(jobIdFor(['/b\u00003\u00004', '/a\u00001\u00002']), id);
    assert.notEqual(jobIdFor(['/a\u00001\u00002', '/b\u00003\u00005']), id, 'a changed mtime is another job');
    assert.notEqual(jobIdFor(['/a\u00001\u00002']), id);
    assert.match(id, /^b[0-9a-f]{32}$/, 'not a bare integer (BullMQ refuses those as custom ids), no ":"');
  });

  it('batches of n in order, the last one shorter; n must be a positive integer', () => {
    assert.deepEqual(batchFiles([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(batchFiles([], 3), []);
    assert.throws(() => batchFiles([1], 0), /positive integer/);
  });
});

describe('queue status text', () => {
  it('counts, files and the rate; "no job finished yet" before any', () => {
    const s: QueueStatus = {
      queue: 'redis://h:6379/q',
      jobs: { waiting: 3, active: 2, delayed: 1, completed: 10, failed: 1, prioritized: 0 },
      files: { enqueuedFiles: 500, enqueuedJobs: 16, taggedFiles: 320, errorFiles: 4, skippedFiles: 0, audioSeconds: 3240, firstDoneMs: 0, lastDoneMs: 0, firstStartMs: 0 },
      elapsedSeconds: 162,
      filesPerSecond: 324 / 162,
      audioHoursPerSecond: 0.9 / 162,
    };
    assert.equal(
      formatStatus(s),
      'queue redis://h:6379/q\n' +
        'jobs   waiting 3  active 2  delayed 1  completed 10  failed 1\n' +
        'files  enqueued 500  tagged 320  errors 4  skipped 0  audio 0.900 h\n' +
        'rate   2.00 files/s  0.0056 audio-hours/s  over 2m42s (first worker start to last finished job)\n',
    );
    assert.match(formatStatus({ ...s, elapsedSeconds: 0 }), /rate {3}no job finished yet\n$/);
  });
});
