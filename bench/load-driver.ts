/** Parent-side handle on the load-client process: send one command, await its result. */
import { forkModule } from './processes.ts';
import type { Tracked } from './processes.ts';
import type { CommandResultMap, LoadCommand, RequestMessage, ResponseMessage } from './load-protocol.ts';

export class LoadDriver {
  readonly child: Tracked;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = forkModule('load client', new URL('./load-client.ts', import.meta.url).pathname);
    this.child.proc.on('message', (msg: ResponseMessage) => {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) waiter.reject(new Error(msg.error));
      else waiter.resolve(msg.result);
    });
    void this.child.exited.then((how) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`load client exited (${how}):\n${this.child.outputTail()}`));
      }
      this.pending.clear();
    });
  }

  run<C extends LoadCommand>(command: C): Promise<CommandResultMap[C['kind']]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.proc.send({ id, command } satisfies RequestMessage);
    });
  }
}
