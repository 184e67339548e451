// The console's credential: an API key or a JWT, sent as
// `authorization: Bearer <value>` (the gateway tells the two apart by shape).
// Kept in sessionStorage (this tab) unless the user asks to remember it on
// this device (localStorage). Never put in a URL.

const STORE_KEY = "tda-console-credential";

function stores(): Storage[] {
  const out: Storage[] = [];
  try {
    out.push(window.sessionStorage, window.localStorage);
  } catch {
    // storage disabled (private mode, sandboxed frame): keep it in memory only
  }
  return out;
}

let memory = "";

export function credential(): string {
  if (memory) return memory;
  for (const s of stores()) {
    const v = s.getItem(STORE_KEY);
    if (v) return (memory = v);
  }
  return "";
}

export function setCredential(value: string, remember: boolean): void {
  memory = value.trim();
  for (const s of stores()) s.removeItem(STORE_KEY);
  const [session, local] = stores();
  if (!memory) return;
  (remember ? local : session)?.setItem(STORE_KEY, memory);
}

export function authHeaders(): Record<string, string> {
  const c = credential();
  return c ? { authorization: `Bearer ${c}` } : {};
}
