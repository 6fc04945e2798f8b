/**
 * A minimal browser for the hosted login pages: follows redirects on the
 * server's origin, keeps cookies (with their paths) and posts forms.
 */
interface Cookie {
  name: string;
  value: string;
  path: string;
}

export interface Page {
  url: string;
  status: number;
  html: string;
  /** The value of a hidden or text input in the page. */
  field(name: string): string | undefined;
  /** Every named input of the form with this id (or of the page), as name -> value. */
  inputs(formId?: string): Record<string, string>;
}

function attr(tag: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1]?.replace(/&amp;/g, '&');
}

export function createBrowser(origin: string) {
  const cookies = new Map<string, Cookie>();

  function store(res: Response, url: URL) {
    for (const header of res.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v] = attr.trim().split('=');
        if (k?.toLowerCase() === 'path' && v) path = v;
        if (k?.toLowerCase() === 'expires' && v && Date.parse(v) < Date.now()) expired = true;
        if (k?.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}|${path}`;
      if (expired || value === '') cookies.delete(key);
      else cookies.set(key, { name, value, path });
    }
  }

  function cookieHeader(url: URL): string {
    return [...cookies.values()]
      .filter(
        (c) =>
          url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
      )
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  async function request(method: string, target: string, form?: Record<string, string>): Promise<Page> {
    let url = new URL(target, origin);
    let body: string | undefined = form ? new URLSearchParams(form).toString() : undefined;
    let m = method;
    for (let hops = 0; hops < 20; hops++) {
      const headers: Record<string, string> = { 'user-agent': 'latchkey-test-browser' };
      const cookie = cookieHeader(url);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method: m, headers, body, redirect: 'manual' });
      store(res, url);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, url);
        if (next.origin !== origin || next.pathname.includes('/callback')) {
          return makePage(next.href, res.status, '');
        }
        url = next;
        m = 'GET';
        body = undefined;
        continue;
      }
      return makePage(url.href, res.status, await res.text());
    }
    throw new Error('too many redirects');
  }

  function makePage(url: string, status: number, html: string): Page {
    return {
      url,
      status,
      html,
      field(name) {
        const re = new RegExp(`name="${name}"[^>]*value="([^"]*)"`);
        return re.exec(html)?.[1]?.replace(/&amp;/g, '&');
      },
      inputs(formId) {
        let scope = html;
        if (formId) {
          const start = html.indexOf(`id="${formId}"`);
          scope = start >= 0 ? html.slice(start, html.indexOf('</form>', start)) : '';
        }
        const out: Record<string, string> = {};
        for (const tag of scope.match(/<input[^>]*>/g) ?? []) {
          const name = attr(tag, 'name');
          if (name) out[name] = attr(tag, 'value') ?? '';
        }
        return out;
      },
    };
  }

  return {
    get: (url: string) => request('GET', url),
    post: (url: string, form: Record<string, string>) => request('POST', url, form),
    /** The form action of a page whose action ends with `suffix`. */
    action(page: Page, suffix: string): string {
      const re = new RegExp(`action="([^"]*${suffix})"`);
      const found = re.exec(page.html)?.[1];
      if (!found) throw new Error(`no form ending in ${suffix} in ${page.url}: ${page.html.slice(0, 400)}`);
      return found;
    },
    cookies,
  };
}

export type Browser = ReturnType<typeof createBrowser>;
