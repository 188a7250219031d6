/** A test client for Server-Sent Events that reads the stream as a browser's EventSource would. */

export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
  retry?: string;
}

/** Reads an event stream frame by frame (a frame ends with a blank line). */
export class SseReader {
  private text = "";
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(readonly response: Response) {
    this.reader = response.body!.getReader();
  }

  async next(): Promise<Frame> {
    for (;;) {
      const end = this.text.indexOf("\n\n");
      if (end >= 0) {
        const block = this.text.slice(0, end);
        this.text = this.text.slice(end + 2);
        const frame: Frame = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) frame.comment = line.slice(1).trim();
          else {
            const colon = line.indexOf(":");
            const field = line.slice(0, colon) as keyof Frame;
            frame[field] = line.slice(colon + 1).replace(/^ /, "");
          }
        }
        return frame;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error("the event stream ended");
      this.text += this.decoder.decode(value, { stream: true });
    }
  }

  /** The next frame that is an event (skipping comments and `retry:`). */
  async nextEvent(): Promise<Frame> {
    for (;;) {
      const f = await this.next();
      if (f.event !== undefined) return f;
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel();
  }
}
