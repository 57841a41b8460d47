// The trace exporter's own HTTP agent, so that close() really ends its network activity.
//
// The SDK exporter cannot be cancelled: a request that outlives close() (a collector that hangs
// or trickles) would stay open until the SDK's own timeout, and its retrying transport would then
// retry connection errors for up to export_timeout_ms more, keeping the process alive after the
// gateway has shut down. Closing this agent destroys its sockets with an error the SDK does not
// retry, and refuses new connections the same way, so nothing of the exporter outlives close().

import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/** Not among the SDK's retryable network errors (ECONNRESET, ECONNREFUSED, …): it gives up at once. */
export const EXPORTER_CLOSED = 'ERR_TOLLGATE_TRACE_EXPORTER_CLOSED';

export interface ExporterAgent {
  readonly agent: http.Agent;
  /** Ends every connection (requests in flight fail with EXPORTER_CLOSED) and refuses new ones. */
  close(): void;
}

export function exporterAgent(protocol: string, maxSockets: number): ExporterAgent {
  const options = { keepAlive: true, maxSockets };
  const agent: http.Agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  const create = agent.createConnection.bind(agent);
  let closed = false;
  agent.createConnection = (connectOptions, callback) => {
    if (!closed) return create(connectOptions, callback);
    callback?.(closedError(), undefined as unknown as Duplex);
    return undefined;
  };
  return {
    agent,
    close() {
      closed = true;
      // Sockets with a request on them fail it; idle keep-alive sockets just close.
      for (const list of Object.values(agent.sockets)) for (const socket of list ?? []) socket.destroy(closedError());
      for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
    },
  };
}

function closedError(): Error {
  return Object.assign(new Error('the trace exporter is closed'), { code: EXPORTER_CLOSED });
}
