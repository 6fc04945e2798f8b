export type ActorType = 'api_key' | 'user' | 'system' | 'rule' | 'anonymous';

export interface Actor {
  type: ActorType;
  id: string | null;
  display: string | null;
}

/** Who asked, from where: carried from the HTTP layer into every audited change. */
export interface RequestContext {
  actor: Actor;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  endpoint?: string;
}

export const systemContext: RequestContext = {
  actor: { type: 'system', id: null, display: 'latchkey' },
  ip: null,
  userAgent: null,
  requestId: null,
};

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** `undefined` when the cursor is not one this server made. */
export function decodeCursor(cursor: string, length: number): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === length && parsed.every((p) => typeof p === 'string')) {
      return parsed as string[];
    }
  } catch {
    // fall through
  }
  return undefined;
}
