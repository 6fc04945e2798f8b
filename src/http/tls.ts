import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
  fingerprint: string;
  generated: boolean;
  path: string;
}

/**
 * The configured certificate, or a self-signed one made once in the data
 * directory (mode 0600 key). The SHA-256 fingerprint lets a client pin it.
 */
export async function loadTls(options: {
  certPath?: string | undefined;
  keyPath?: string | undefined;
  dataDir: string;
  hostnames: string[];
}): Promise<TlsMaterial> {
  let certPath = options.certPath;
  let keyPath = options.keyPath;
  let generated = false;
  if (!certPath || !keyPath) {
    certPath = join(options.dataDir, 'tls-cert.pem');
    keyPath = join(options.dataDir, 'tls-key.pem');
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
      const altNames = [
        ...options.hostnames.map((value) => ({ type: 2 as const, value })),
        { type: 7 as const, ip: '127.0.0.1' },
        { type: 7 as const, ip: '::1' },
      ];
      const pems = await generate([{ name: 'commonName', value: 'latchkey' }], {
        keySize: 2048,
        algorithm: 'sha256',
        notAfterDate: new Date(Date.now() + 825 * 86_400_000),
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames },
        ],
      });
      writeFileSync(keyPath, pems.private, { mode: 0o600 });
      writeFileSync(certPath, pems.cert, { mode: 0o644 });
      generated = true;
    }
  }
  const cert = readFileSync(certPath, 'utf8');
  const key = readFileSync(keyPath, 'utf8');
  return { key, cert, fingerprint: new X509Certificate(cert).fingerprint256, generated, path: certPath };
}
