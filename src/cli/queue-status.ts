/** `ast-audio queue status redis://HOST:PORT/NAME`: how far a queue is. */
import { Command, InvalidArgumentError } from 'commander';
import { parseQueueUrl, type QueueAddress } from '../corpus/queue/redis-url.js';
import { formatStatus, queueStatus } from '../corpus/queue/status.js';

function parseQueue(value: string): QueueAddress {
  try {
    return parseQueueUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function register(program: Command): void {
  const queue = program.command('queue').description('BullMQ queues of `tag --queue` and `worker`');
  queue
    .command('status')
    .description('jobs waiting, active, completed and failed; files tagged and files/s')
    .argument('<redis://host:port/name>', 'the queue', parseQueue)
    .option('--json', 'print one JSON document', false)
    .action(async (address: QueueAddress, opts: { json: boolean }) => {
      try {
        const status = await queueStatus(address);
        process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      } catch (err) {
        process.stderr.write(`ast-audio queue status: ${address.display}: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
