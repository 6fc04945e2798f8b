import { fork } from 'node:child_process';
import autocannon from 'autocannon';
const path = process.argv[2] ?? '/v1/users/me';
const child = fork('/work/wt-apikeys/bench/api-keys.ts', ['--server', 'latchkey'], { execArgv: ['--import', 'tsx', '--cpu-prof', '--cpu-prof-dir=/tmp/apikeys-prof'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
child.once('message', async (m: any) => {
  const verify = path.includes('verify');
  const r = await autocannon({ url: `http://127.0.0.1:${m.port}${path}`, connections: 50, duration: 8, ...(verify ? { method: 'POST', body: JSON.stringify({ key: m.targetKey }) } : {}), headers: { authorization: `Bearer ${verify ? m.verifierKey : m.apiKey}`, 'content-type': 'application/json' } });
  console.log(r.requests.average, r.latency.p99);
  child.send({ type: 'stop' });
});
