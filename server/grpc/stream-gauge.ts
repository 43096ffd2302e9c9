/**
 * Counters of the bidirectional streams a GrpcServer serves, for tests, logs and metrics:
 * how many are open, and the most requests any one stream held at once (read from the client
 * but not yet answered and flushed to the transport). The second figure is what back-pressure
 * bounds: it stays near maxInFlightPerStream however fast a client writes or slowly it reads.
 */
export interface StreamGaugeSnapshot {
  openStreams: number;
  /** Highest backlog (requests received and not yet answered and flushed) seen on one stream. */
  backlogPeak: number;
  /** Requests read from all streams so far. */
  received: number;
  /** Responses handed to the transport so far. */
  flushed: number;
}

export class StreamGauge {
  private open = 0;
  private peak = 0;
  private receivedTotal = 0;
  private flushedTotal = 0;

  opened(): void {
    this.open += 1;
  }

  closed(): void {
    this.open -= 1;
  }

  received(backlog: number): void {
    this.receivedTotal += 1;
    if (backlog > this.peak) this.peak = backlog;
  }

  flushed(): void {
    this.flushedTotal += 1;
  }

  /** Starts a new peak measurement (tests measure one stream at a time). */
  resetPeak(): void {
    this.peak = 0;
  }

  snapshot(): StreamGaugeSnapshot {
    return {
      openStreams: this.open,
      backlogPeak: this.peak,
      received: this.receivedTotal,
      flushed: this.flushedTotal,
    };
  }
}
