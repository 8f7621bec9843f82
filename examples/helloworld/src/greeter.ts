// The Greeter handler: what the service serves and, through its type, what the
// client may call. Endpoints are named <Handler>.<Method>: Greeter.Hello, Greeter.Chat.
import { type Context, stream } from '@micro/core';

export interface HelloRequest {
  name: string;
}

export interface HelloResponse {
  msg: string;
  /** Which instance answered, so a demo can show load spreading. */
  from: string;
}

export interface ChatMessage {
  text: string;
}

/** The event the client publishes when a user signs up. */
export interface UserCreated {
  id: number;
  name: string;
}

export class Greeter {
  constructor(private readonly instance: string) {}

  async Hello(request: HelloRequest, context: Context): Promise<HelloResponse> {
    const caller = context.metadata.get('x-caller') ?? 'someone';
    return { msg: `Hello ${request.name} (asked by ${caller})`, from: this.instance };
  }

  /** Echoes every message upper-cased until the client closes its side. */
  Chat = stream<ChatMessage, ChatMessage>(async (chat) => {
    for await (const message of chat) {
      await chat.send({ text: `${this.instance} heard: ${message.text.toUpperCase()}` });
    }
  });
}
