import { buildApi, type ApiInstance, type ApiOptions } from "../../src/api/server.js";
import { MemoryFacade } from "./memory-facade.js";

export const TOKEN = "test-token-0123456789abcdef";

/** An API over a fresh in-memory facade; close it with `app.close()`. */
export function makeApi(options: Partial<ApiOptions> = {}): { app: ApiInstance; facade: MemoryFacade } {
  const facade = new MemoryFacade();
  const app = buildApi(facade, { host: "127.0.0.1", logger: false, ...options });
  return { app, facade };
}

export interface ErrorBody {
  error: string;
  message: string;
  code?: string;
  details?: { path: string; message: string }[];
}
