/**
 * The one connection that LISTENs for events. On a real server it is a pg.Client of its own
 * (a pooled client would be handed to other transactions, and a LISTEN belongs to a session).
 * PGlite in process has one session for everything; tests give it an adapter over
 * PGlite.listen() through the `notifications` option.
 */
import pg from 'pg';

export interface NotificationConnection {
  /**
   * Connects and LISTENs on `channel`. `onNotify` gets each payload; `onLost` is called once if
   * the connection drops afterwards (the caller then builds a new one).
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onLost: (error: Error) => void,
  ): Promise<void>;
  close(): Promise<void>;
}

export function pgNotificationConnection(config: pg.ClientConfig): NotificationConnection {
  const client = new pg.Client(config);
  let closing = false;
  return {
    async listen(channel, onNotify, onLost) {
      let lost = false;
      const lose = (error: Error): void => {
        if (lost || closing) return;
        lost = true;
        onLost(error);
      };
      client.on('error', lose);
      client.on('end', () => lose(new Error('the LISTEN connection ended')));
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.connect();
      // The channel is built from a validated schema name; quoted as an identifier all the same.
      await client.query(`LISTEN "${channel}"`);
    },
    async close() {
      closing = true;
      await client.end().catch(() => undefined);
    },
  };
}
